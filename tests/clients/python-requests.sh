#!/usr/bin/env bash
# python-requests' own test suite against prefork-server: its `httpbin` and `httpbin_secure`
# fixtures served by the binary given (HTTPS with pytest-httpbin's certificate), as a client
# test suite would use a drop-in httpbin. Needs python3 with venv and the Python package index.
#
# usage: tests/clients/python-requests.sh PATH/TO/prefork-server [pytest args...]
# exit: pytest's (0 when every test passes); 77 when the environment cannot be made.
#
# Left out, as they use no httpbin: the four TestTimeout cases that connect to 10.255.255.1
# and expect the connect to hang (with no route, as on a machine with loopback only, it fails
# at once instead), and test_different_connection_pool_for_mtls_settings, whose own TLS
# server uses the expired certificates requests ships in tests/certs/expired.
set -euo pipefail
bin=$(realpath "${1:?usage: python-requests.sh PATH/TO/prefork-server [pytest args...]}")
shift
here=$(cd "$(dirname "$0")" && pwd)
work=${PREFORK_REQUESTS_DIR:-/tmp/prefork-python-requests}
version=2.32.3
if [ ! -x "$work/venv/bin/pytest" ] || [ ! -d "$work/requests-$version/tests" ]; then
  rm -rf "$work" && mkdir -p "$work"
  python3 -m venv "$work/venv" || exit 77
  "$work/venv/bin/pip" install -q "requests==$version" pytest pytest-httpbin==2.1.0 pytest-mock \
    trustme || exit 77
  (cd "$work" && "$work/venv/bin/pip" download -q --no-binary :all: --no-deps "requests==$version" \
    && tar xzf "requests-$version.tar.gz") || exit 77
fi
cd "$work/requests-$version"
PYTHONPATH="$here" PREFORK_SERVER="$bin" exec "$work/venv/bin/pytest" -q -p no:httpbin \
  -p prefork_httpbin -p no:cacheprovider -p no:warnings tests/test_requests.py \
  --deselect "tests/test_requests.py::TestTimeout::test_connect_timeout" \
  --deselect "tests/test_requests.py::TestTimeout::test_total_timeout_connect" \
  --deselect "tests/test_requests.py::TestPreparingURLs::test_different_connection_pool_for_mtls_settings" \
  "$@"
