#!/usr/bin/env bash
# Builds the prefork-server container image FROM scratch: the release binary (debug info
# stripped) and the shared libraries `ldd` says it loads, copied at the same paths, plus a
# minimal /etc/passwd and /etc/group. Tags IMAGE:VERSION and IMAGE:latest, VERSION from
# `prefork-server --version`, and prints the image size.
#
#   packaging/container/build.sh                                   # cargo build --release --locked
#   PREFORK_BIN=/path/to/prefork-server packaging/container/build.sh
#   CONTAINER_ENGINE=docker packaging/container/build.sh
#
# Environment: PREFORK_BIN (the binary; built when unset), CONTAINER_ENGINE (podman or docker;
# default podman), PREFORK_IMAGE (the image name; default prefork-server), PREFORK_IMAGE_SOURCE
# (the repository URL for the org.opencontainers.image.source label; default empty).
# The binary must be built for the machine's own libc: the libraries are copied from this host.
set -euo pipefail
cd "$(dirname "$0")/../.."

ENGINE=${CONTAINER_ENGINE:-podman}
IMAGE=${PREFORK_IMAGE:-prefork-server}
CONTAINERFILE=packaging/container/Containerfile
# The image's user; the Containerfile's USER and deploy/kubernetes/ use the same numbers.
UID_=10001
GID_=10001

command -v "$ENGINE" >/dev/null || { echo "build.sh: $ENGINE is not installed" >&2; exit 1; }
command -v ldd >/dev/null || { echo "build.sh: ldd is missing (libc-bin)" >&2; exit 1; }
command -v objcopy >/dev/null || { echo "build.sh: objcopy is missing (binutils)" >&2; exit 1; }

if [ -n "${PREFORK_BIN:-}" ]; then
	bin=$PREFORK_BIN
else
	cargo build --release --locked
	bin=target/release/prefork-server
fi
[ -x "$bin" ] || { echo "build.sh: $bin is not an executable" >&2; exit 1; }

# "prefork-server 0.1.0 (commit c17c24e295fd, 2026-12-07)"
version_line=$("$bin" --version)
version=$(awk '{ print $2 }' <<<"$version_line")
revision=$(sed -n 's/.*(commit \([0-9a-zA-Z]*\).*/\1/p' <<<"$version_line")
[ -n "$version" ] || { echo "build.sh: no version in '$version_line'" >&2; exit 1; }

stage=$(mktemp -d /tmp/prefork-image.XXXXXX)
trap 'rm -rf "$stage"' EXIT
root=$stage/rootfs
mkdir -p "$root/usr/bin" "$root/etc"

# Debug info off (about 31 MB to 7 MB); the symbol table stays, so panics still name functions.
objcopy --strip-debug "$bin" "$root/usr/bin/prefork-server"
chmod 755 "$root/usr/bin/prefork-server"

# Every library the loader would map, at the path it would map it from (its target, when the
# path is a symlink: /lib64/ld-linux-x86-64.so.2 is one). ldd prints "name => /path (addr)" or
# "/path (addr)"; linux-vdso has no path.
libs=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[ -n "$libs" ] || { echo "build.sh: ldd named no libraries (a static binary needs none; not expected here)" >&2; exit 1; }
for lib in $libs; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done

# Names for the uids `ps`/`podman top` show; no shell, no password, no home.
cat >"$root/etc/passwd" <<EOF
root:x:0:0:root:/:/nonexistent
nobody:x:65534:65534:nobody:/:/nonexistent
prefork:x:$UID_:$GID_:prefork-server:/:/nonexistent
EOF
cat >"$root/etc/group" <<EOF
root:x:0:
nogroup:x:65534:
prefork:x:$GID_:
EOF
chmod 644 "$root/etc/passwd" "$root/etc/group"
cp "$CONTAINERFILE" "$stage/Containerfile"

echo "build.sh: $version_line; libraries: $(tr '\n' ' ' <<<"$libs")"
format=()
# Podman builds OCI images by default, and the OCI format has no HEALTHCHECK: ask for Docker's.
# One layer, no intermediate images left behind.
[ "$(basename "$ENGINE")" = podman ] && format=(--format docker --layers=false)
"$ENGINE" build "${format[@]}" \
	--build-arg VERSION="$version" \
	--build-arg REVISION="$revision" \
	--build-arg SOURCE="${PREFORK_IMAGE_SOURCE:-}" \
	-t "$IMAGE:$version" -t "$IMAGE:latest" \
	-f "$stage/Containerfile" "$stage"

size=$("$ENGINE" image inspect --format '{{.Size}}' "$IMAGE:latest")
echo "build.sh: built $IMAGE:$version and $IMAGE:latest, $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.1f MB", s / 1e6 }'))"
