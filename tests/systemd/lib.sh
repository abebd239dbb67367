# Shared by tests/systemd/run.sh (the units) and tests/systemd/package.sh (the Debian package):
# a Debian 12 tree with systemd 252, built once with debootstrap, booted in systemd-nspawn and
# driven with nsenter; the helpers the checks use. Sourced from the repository's root, after
# `set -euo pipefail`. Sets $bin (the release binary, or $PREFORK_BIN) and $stage (a folder
# removed at exit, bound into the container at /opt/prefork).

TREE=${PREFORK_SYSTEMD_TREE:-/var/cache/prefork-systemd-tree}
MIRROR=${PREFORK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
UNIT=prefork-server

skip() {
	echo "SKIP: $*"
	exit 0
}
say() { echo "systemd: $*"; }

[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn, nsenter)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is missing (apt-get install systemd-container)"
command -v nsenter >/dev/null || skip "nsenter is missing (util-linux)"

if [ ! -x "$TREE/lib/systemd/systemd" ]; then
	command -v debootstrap >/dev/null || skip "debootstrap is missing (apt-get install debootstrap)"
	say "building the Debian 12 tree in $TREE (once)"
	rm -rf "$TREE.partial"
	mkdir -p "$(dirname "$TREE")"
	if ! timeout 900 debootstrap --variant=minbase --include=systemd,dbus,curl,procps,iproute2 \
		bookworm "$TREE.partial" "$MIRROR" >/tmp/prefork-debootstrap.log 2>&1; then
		tail -5 /tmp/prefork-debootstrap.log
		rm -rf "$TREE.partial"
		skip "debootstrap could not build a Debian 12 tree (see above)"
	fi
	mv "$TREE.partial" "$TREE"
fi

if [ -n "${PREFORK_BIN:-}" ]; then
	bin=$PREFORK_BIN
else
	timeout 1800 cargo build --release --locked
	bin=target/release/prefork-server
fi

stage=$(mktemp -d /tmp/prefork-systemd.XXXXXX)
nspawn_pid=
ct=
cleanup() {
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		# nspawn turns SIGTERM into an orderly shutdown of the container.
		kill -TERM "$nspawn_pid" 2>/dev/null || true
		for _ in $(seq 150); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$nspawn_pid" 2>/dev/null || true
		wait "$nspawn_pid" 2>/dev/null || true
	fi
	rm -rf "$stage"
}
trap cleanup EXIT

# Runs a command inside the container, bounded by $T seconds (default 30).
in_ct() { timeout "${T:-30}" nsenter -t "$ct" -a "$@"; }
prop() { in_ct systemctl show -p "$1" --value "${2:-$UNIT}"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# Polls "$@" every 0.1 s for at most $1 seconds.
wait_for() {
	local limit=$1
	shift
	local end=$(($(date +%s) + limit))
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.1
	done
}
fail() {
	echo "FAIL: $*" >&2
	if [ -n "$ct" ]; then
		T=10 in_ct journalctl -u "$UNIT" -u "$UNIT.socket" --no-pager -n 80 >&2 || true
	fi
	exit 1
}
# The journal lines of the unit since the cursor file was last written.
journal_since_mark() { in_ct journalctl -u "$UNIT" --no-pager --after-cursor="$(cat "$stage/cursor")"; }
mark_journal() { in_ct journalctl -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p' >"$stage/cursor"; }
# A GET from inside the container: "<status> <bytes>".
get() { in_ct curl -s -m "${2:-5}" -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:${PORT:-8080}$1" || true; }

# Boots the Debian tree on a tmpfs overlay, with $stage bound read-only at /opt/prefork; sets
# $ct (the container's init, for nsenter) and $booted. Skips where it cannot boot.
boot_container() {
	say "booting $(systemd-nspawn --version | head -1) in a container"
	systemd-nspawn -q -D "$TREE" --volatile=overlay --register=no --keep-unit --boot \
		--private-network --console=read-only --machine="prefork-ci-$$" \
		--bind-ro="$stage:/opt/prefork" >"$stage/console.log" 2>&1 &
	nspawn_pid=$!
	booted=$(now)
	# Finds the container's init (a child of nspawn); gives up at once if nspawn has exited.
	find_init() {
		local pid
		kill -0 "$nspawn_pid" 2>/dev/null || return 0
		for pid in $(pgrep -P "$nspawn_pid"); do
			if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ]; then
				ct=$pid
				return 0
			fi
		done
		return 1
	}
	if ! wait_for 20 find_init || [ -z "$ct" ]; then
		tail -20 "$stage/console.log"
		skip "systemd-nspawn could not boot the container (see above)"
	fi
	state=
	boot_done() {
		state=$(T=5 in_ct systemctl is-system-running 2>/dev/null || true)
		[ "$state" = running ] || [ "$state" = degraded ]
	}
	if ! wait_for 60 boot_done; then
		tail -20 "$stage/console.log"
		skip "the container's systemd did not finish booting (state: ${state:-none})"
	fi
	say "booted in $(since "$booted") s ($state)"
}
