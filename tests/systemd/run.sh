#!/usr/bin/env bash
# The shipped units under a real systemd: Debian 12's systemd 252 booted in a systemd-nspawn
# container, driven with nsenter. Checks start (READY), reload, stop with a request in flight,
# the watchdog on a stopped master, socket activation, a binary upgrade (a broken binary, then
# a good one) and a stop with a request in flight after it, and the systemd-analyze security
# exposure. Bounded in time; stops the container and cleans up; exits 0 with "SKIP: ..." where
# systemd-nspawn cannot boot.
#
#   tests/systemd/run.sh                          # as root; builds the release binary
#   PREFORK_BIN=target/debug/prefork-server tests/systemd/run.sh
#
# The Debian tree is built once with debootstrap (about 70 s) and kept in
# $PREFORK_SYSTEMD_TREE (default /var/cache/prefork-systemd-tree); the container runs on a
# tmpfs overlay of it (--volatile=overlay), so every run starts from the same tree.
set -euo pipefail
cd "$(dirname "$0")/../.."

MAX_EXPOSURE=2.0
# shellcheck source=tests/systemd/lib.sh
. tests/systemd/lib.sh

mkdir -p "$stage/units"
install -m 755 "$bin" "$stage/prefork-server"
cp systemd/prefork-server.service systemd/prefork-server.socket "$stage/units/"
# Test values: the watchdog fires 4 s after the last ping, and SIGABRT gets at most 4 s before
# SIGKILL; the access log proves LogsDirectory= writable.
cat >"$stage/test.conf" <<'EOF'
[Service]
WatchdogSec=4s
TimeoutAbortSec=4s
RestartSec=500ms
Environment=PREFORK_ACCESS_LOG=/var/log/prefork-server/access.log
EOF
printf '#!/bin/sh\necho "broken on purpose" >&2\nexit 78\n' >"$stage/broken"

boot_container

in_ct sh -c "install -m 755 /opt/prefork/prefork-server /usr/local/bin/prefork-server &&
	cp /opt/prefork/units/* /etc/systemd/system/ &&
	mkdir -p /etc/systemd/system/$UNIT.service.d &&
	cp /opt/prefork/test.conf /etc/systemd/system/$UNIT.service.d/ &&
	systemctl daemon-reload"

# 1. Start: systemctl start returns once READY=1 arrived; the port answers.
t0=$(now)
T=60 in_ct systemctl start "$UNIT" || fail "start"
main=$(prop MainPID)
status=$(prop StatusText)
[[ $status == *"generation 1"* ]] || fail "StatusText after start: $status"
answer=$(get /get)
[[ $answer == "200 "* ]] || fail "GET /get after start: $answer"
[ "$(in_ct cat /run/prefork-server/prefork-server.pid)" = "$main" ] || fail "the pid file does not name $main"
# Workers write their access log at least once a second.
logged() { in_ct grep -q '"GET /get HTTP/1.1" 200' /var/log/prefork-server/access.log 2>/dev/null; }
wait_for 5 logged || fail "no access log line in /var/log/prefork-server"
say "ok start: READY after $(since "$t0") s, main pid $main, \"$status\", pid file and access log written"

# 2. Reload under load: two systemctl reloads, no failed request.
in_ct sh -c 'end=$(($(date +%s) + 4)); ok=0; bad=0
	while [ "$(date +%s)" -lt "$end" ]; do
		c=$(curl -s -m 5 -o /dev/null -w "%{http_code}" http://127.0.0.1:8080/get)
		if [ "$c" = 200 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
	done; echo "$ok $bad"' >"$stage/load" &
load=$!
sleep 1
T=60 in_ct systemctl reload "$UNIT" || fail "first reload"
sleep 1
T=60 in_ct systemctl reload "$UNIT" || fail "second reload"
wait "$load" || fail "the load loop"
read -r ok bad <"$stage/load"
status=$(prop StatusText)
[[ $status == *"generation 3"* ]] || fail "StatusText after two reloads: $status"
[ "$bad" = 0 ] && [ "$ok" -gt 20 ] || fail "reload under load: $ok answered, $bad failed"
[ "$(prop MainPID)" = "$main" ] || fail "the main pid changed on reload"
say "ok reload: 2 reloads under load, $ok requests answered, $bad failed, \"$status\""

# 3. Stop with a request in flight: it completes.
get /delay/2 15 >"$stage/inflight" &
inflight=$!
sleep 0.7
t0=$(now)
T=60 in_ct systemctl stop "$UNIT" || fail "stop"
took=$(since "$t0")
wait "$inflight" || true
answer=$(cat "$stage/inflight")
[[ $answer == "200 "* ]] || fail "the request in flight during the stop got: '$answer'"
result=$(prop Result)
[ "$result" = success ] || fail "Result=$result after the stop"
say "ok stop: the /delay/2 in flight answered (HTTP ${answer% *}, ${answer#* } bytes), stop took $took s, Result=$result"

# 4. Watchdog: a stopped master stops pinging; systemd sends it SIGABRT (which ends even a
# stopped process; SIGKILL follows after TimeoutAbortSec otherwise) and restarts the service.
# Run on a started service, and again below after a binary upgrade.
check_watchdog() {
	local what=$1 main restarts t0 took journal first_kill answer
	main=$(prop MainPID)
	restarts=$(prop NRestarts)
	mark_journal
	t0=$(now)
	in_ct kill -STOP "$main"
	restarted() {
		local pid
		pid=$(prop MainPID)
		[ "$pid" != 0 ] && [ "$pid" != "$main" ] && [ "$(prop ActiveState)" = active ] &&
			[ "$(prop NRestarts)" -gt "$restarts" ]
	}
	wait_for 40 restarted || fail "$what: no restart after the watchdog timeout"
	took=$(since "$t0")
	journal=$(journal_since_mark)
	grep -q "Watchdog timeout" <<<"$journal" || fail "$what: no watchdog timeout in the journal"
	# SIGABRT first, to the master (a core dump of the hung loop), not an outright SIGKILL.
	first_kill=$(grep -m1 "with signal SIG" <<<"$journal" || true)
	[[ $first_kill == *"Killing process $main (prefork-server) with signal SIGABRT"* ]] ||
		fail "$what: the master did not get SIGABRT first: $first_kill"
	answer=$(get /get)
	[[ $answer == "200 "* ]] || fail "$what: GET after the watchdog restart: $answer"
	say "ok $what: SIGSTOP of pid $main, SIGABRT to it first, restarted as pid $(prop MainPID) after $took s, answers"
	grep -E "Watchdog timeout|SIGABRT|Main process exited|Failed with result" <<<"$journal" |
		sed 's/^/    /' | head -8
}
T=60 in_ct systemctl start "$UNIT" || fail "start before the watchdog check"
check_watchdog watchdog
T=60 in_ct systemctl stop "$UNIT" || fail "stop after the watchdog check"

# 5. Socket activation: the service starts on the first connection, on systemd's socket.
mark_journal
T=60 in_ct systemctl start "$UNIT.socket" || fail "start the socket unit"
[ "$(prop ActiveState)" = inactive ] || fail "the service started before any connection"
answer=$(get /get 15)
[[ $answer == "200 "* ]] || fail "first connection to the socket unit: $answer"
[ "$(prop ActiveState)" = active ] || fail "the service is not active after the first connection"
journal_since_mark | grep -q 'using inherited listening sockets.*source="systemd"' ||
	fail "the service did not use the socket systemd passed"
say "ok socket activation: started by the first connection (HTTP ${answer% *}), on systemd's socket ($(prop Listen "$UNIT.socket"))"
T=60 in_ct systemctl stop "$UNIT.socket" "$UNIT" || fail "stop the socket unit"

# 6. Binary upgrade: a broken binary is refused and changes nothing; a good one re-executes
# the master in place (same pid); then a stop with a request in flight is still graceful.
T=60 in_ct systemctl start "$UNIT" || fail "start before the upgrade"
main=$(prop MainPID)
workers=$(in_ct pgrep -P "$main" | sort | tr '\n' ' ')
mark_journal
in_ct install -m 755 /opt/prefork/broken /usr/local/bin/prefork-server
in_ct systemctl kill -s USR2 --kill-whom=main "$UNIT"
refused() { journal_since_mark | grep -q "binary upgrade refused"; }
wait_for 20 refused || fail "the broken binary was not refused"
sleep 0.5
[ "$(prop MainPID)" = "$main" ] && [ "$(prop ActiveState)" = active ] || fail "a broken binary disturbed the service"
[ "$(in_ct pgrep -P "$main" | sort | tr '\n' ' ')" = "$workers" ] || fail "a broken binary replaced workers"
say "ok upgrade to a broken binary: refused ($(journal_since_mark | grep -o 'exited with code [0-9]*' | head -1)), same master and workers"

in_ct install -m 755 /opt/prefork/prefork-server /usr/local/bin/prefork-server
t0=$(now)
in_ct systemctl kill -s USR2 --kill-whom=main "$UNIT"
upgraded() { [[ $(prop StatusText) == *"generation 2"* ]]; }
wait_for 30 upgraded || fail "no generation 2 after SIGUSR2"
took=$(since "$t0")
[ "$(prop MainPID)" = "$main" ] || fail "the main pid changed: $(prop MainPID), not $main"
old_gone() {
	local children w
	children=$(in_ct pgrep -P "$main" || true)
	for w in $workers; do
		! grep -qx "$w" <<<"$children" || return 1
	done
}
wait_for 20 old_gone || fail "the old workers did not exit"
answer=$(get /get)
[[ $answer == "200 "* ]] || fail "GET after the upgrade: $answer"
warnings=$(journal_since_mark | grep -c "reception only permitted for main PID" || true)
[ "$warnings" = 0 ] || fail "$warnings notify messages from a pid other than the main one"
! journal_since_mark | grep -q "not our child" || fail "systemd supervises a process that is not its child"
say "ok upgrade: re-executed in place in $took s, main pid still $main, old workers reaped, $warnings notify warnings"

get /delay/2 15 >"$stage/inflight" &
inflight=$!
sleep 0.7
t0=$(now)
T=60 in_ct systemctl stop "$UNIT" || fail "stop after the upgrade"
took=$(since "$t0")
wait "$inflight" || true
answer=$(cat "$stage/inflight")
result=$(prop Result)
[[ $answer == "200 "* ]] || fail "the request in flight during the stop after the upgrade got: '$answer'"
[ "$result" = success ] || fail "Result=$result after the stop after the upgrade"
say "ok stop after the upgrade: the /delay/2 in flight answered (HTTP ${answer% *}, ${answer#* } bytes), stop took $took s, Result=$result"

# The watchdog after an upgrade: the master re-executed in place is still systemd's child.
T=60 in_ct systemctl start "$UNIT" || fail "start before the watchdog check after an upgrade"
in_ct systemctl kill -s USR2 --kill-whom=main "$UNIT"
wait_for 30 upgraded || fail "no generation 2 after SIGUSR2 (watchdog check)"
check_watchdog "watchdog after an upgrade"
T=60 in_ct systemctl stop "$UNIT" || fail "stop after the watchdog check after an upgrade"

# 7. systemd-analyze security.
exposure=$(in_ct systemd-analyze security "$UNIT.service" --no-pager |
	sed -n "s/.*Overall exposure level for $UNIT.service: \([0-9.]*\).*/\1/p")
[ -n "$exposure" ] || fail "no exposure level from systemd-analyze security"
awk -v e="$exposure" -v max="$MAX_EXPOSURE" 'BEGIN { exit !(e <= max) }' ||
	fail "systemd-analyze security exposure $exposure is worse than $MAX_EXPOSURE"
say "ok security: exposure $exposure (at most $MAX_EXPOSURE)"

say "all checks passed in $(since "$booted") s"
