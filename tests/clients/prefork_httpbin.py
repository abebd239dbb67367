"""A pytest plugin that stands in for pytest-httpbin: its fixtures `httpbin`, `httpbin_secure`,
`httpbin_both` and `httpbin_ca_bundle`, served by prefork-server instead of the Python httpbin,
HTTPS with pytest-httpbin's own certificate (`pytest_httpbin/certs/server.pem` and its key).

Load it with `-p no:httpbin -p prefork_httpbin` (this directory on PYTHONPATH) and
PREFORK_SERVER=/path/to/prefork-server; see python-requests.sh.
"""
import os
import re
import subprocess
import time

import pytest
import pytest_httpbin.certs


class Served:
    """What pytest-httpbin's server objects offer the tests: url, host, port, join and +."""

    def __init__(self, protocol, host, port):
        self.protocol, self.host, self.port = protocol, host, port

    @property
    def url(self):
        return f"{self.protocol}://{self.host}:{self.port}"

    def __add__(self, other):
        return self.url + other

    def join(self, url, allow_fragments=True):
        from urllib.parse import urljoin
        return urljoin(self.url, url, allow_fragments=allow_fragments)


@pytest.fixture(scope="session")
def prefork_server():
    certs = os.path.join(os.path.dirname(pytest_httpbin.certs.__file__), "certs")
    cmd = [os.environ["PREFORK_SERVER"], "--bind", "127.0.0.1", "--port", "0", "--workers", "2",
           "--tls-port", "0", "--tls-cert", os.path.join(certs, "server.pem"),
           "--tls-key", os.path.join(certs, "server.key")]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, RUST_LOG="info"))
    deadline = time.time() + 15
    line = ""
    while time.time() < deadline and "listening on" not in line:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
    m = re.search(r"listening on 127\.0\.0\.1:(\d+).*https=127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"prefork-server did not start: {line}")
    try:
        yield int(m.group(1)), int(m.group(2))
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.fixture(scope="session")
def httpbin(prefork_server):
    return Served("http", "127.0.0.1", prefork_server[0])


@pytest.fixture(scope="session")
def httpbin_secure(prefork_server):
    return Served("https", "127.0.0.1", prefork_server[1])


@pytest.fixture(scope="session", params=["http", "https"])
def httpbin_both(request, httpbin, httpbin_secure):
    return httpbin if request.param == "http" else httpbin_secure


@pytest.fixture(scope="function")
def httpbin_ca_bundle(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", pytest_httpbin.certs.where())
