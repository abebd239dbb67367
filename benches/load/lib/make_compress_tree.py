"""The tree of `load.sh --compress`: a 64 KiB HTML page (a table of links and text, as a
generated page is: repeated markup, varied words and numbers; the same bytes every time) and
a directory of 1,000 files with names of 10 to 40 characters."""
import os
import random
import sys

root = sys.argv[1]
os.makedirs(os.path.join(root, "list1000"), exist_ok=True)
rng = random.Random(26)
words = ("server worker request response header body file cache listing compress gzip brotli "
         "budget memory connection socket epoll loop turn chunk stream range validator entity "
         "tag modified since match none weak strong client proxy origin").split()
page = os.path.join(root, "64k.html")
if not os.path.exists(page) or os.path.getsize(page) != 65536:
    out = ["<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Report</title>"
           "<link rel=\"stylesheet\" href=\"/style.css\"></head>\n<body><h1>Report</h1>\n<table>\n"]
    n = 0
    while sum(map(len, out)) < 70000:
        n += 1
        text = " ".join(rng.choice(words) for _ in range(rng.randint(4, 12)))
        out.append(f"<tr class=\"row-{n % 2}\"><td><a href=\"/items/{rng.randint(1, 99999)}\">"
                   f"{text}</a></td><td class=\"num\">{rng.randint(0, 10**6)}</td>"
                   f"<td>{rng.randint(2000, 2026)}-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}</td></tr>\n")
    with open(page, "wb") as f:
        f.write("".join(out).encode()[:65536])
listing = os.path.join(root, "list1000")
if len(os.listdir(listing)) != 1000:
    for i in range(1000):
        name = "-".join(rng.choice(words) for _ in range(rng.randint(2, 5))) + f"-{i}.txt"
        with open(os.path.join(listing, name), "wb") as f:
            f.write(b"x" * rng.randint(0, 5000))
