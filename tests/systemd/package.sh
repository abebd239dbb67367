#!/usr/bin/env bash
# The Debian package under a real systemd: built by packaging/deb/build.sh, checked on the host
# (its files, its conffile, the man page rendering every option, its variable, the signals and
# the exit codes), then installed with dpkg in Debian 12's systemd 252 (systemd-nspawn, as
# tests/systemd/run.sh): the service starts on install and serves; the conffile changes its
# port; reload; a reinstall upgrades the binary in place (same main pid) and keeps the edited
# conffile; stop; remove stops it and keeps the conffile; purge deletes it. Bounded in time;
# exits 0 with "SKIP: ..." where the container cannot boot.
#
#   tests/systemd/package.sh                      # as root; builds the release binary
#   PREFORK_BIN=target/release/prefork-server tests/systemd/package.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=tests/systemd/lib.sh
. tests/systemd/lib.sh

command -v dpkg-deb >/dev/null || skip "dpkg-deb is missing (apt-get install dpkg)"
say "building the package"
built=$(PREFORK_BIN=$bin packaging/deb/build.sh)
deb=${built%% *}
say "built $built"
cp "$deb" "$stage/prefork-server.deb"

# On the host: the files and what the man page says.
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/prefork-server ./lib/systemd/system/prefork-server.service \
	./lib/systemd/system/prefork-server.socket ./etc/default/prefork-server \
	./usr/share/man/man1/prefork-server.1.gz ./usr/share/bash-completion/completions/prefork-server \
	./usr/share/zsh/vendor-completions/_prefork-server \
	./usr/share/fish/vendor_completions.d/prefork-server.fish ./usr/share/doc/prefork-server/copyright; do
	grep -qx "$f" <<<"$contents" || fail "$f is not in the package"
done
[ "$(dpkg-deb -f "$deb" Package)" = prefork-server ] || fail "control: Package"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/default/prefork-server ||
	fail "/etc/default/prefork-server is not a conffile"
dpkg-deb -x "$deb" "$stage/extracted"
grep -q '^ExecStart=/usr/bin/prefork-server$' "$stage/extracted/lib/systemd/system/prefork-server.service" ||
	fail "the packaged unit does not run /usr/bin/prefork-server"
if command -v man >/dev/null; then
	page=$(MANWIDTH=200 man -l "$stage/extracted/usr/share/man/man1/prefork-server.1.gz" 2>/dev/null)
	options=0
	while read -r option env; do
		grep -qF -- "$option" <<<"$page" || fail "man page: no $option"
		[ -z "$env" ] || grep -qF "$env" <<<"$page" || fail "man page: no $env"
		options=$((options + 1))
	done < <("$stage/extracted/usr/bin/prefork-server" --help |
		sed -n 's/^ *\(-[a-zA-Z], \)\?\(--[a-z0-9-]*\).*/\2/p;s/.*\[env: \(PREFORK_[A-Z0-9_]*\)=.*/ENV \1/p' |
		awk '$1 == "ENV" { if (n) print opt, $2; n = 0; next } { if (n) print opt; opt = $1; n = 1 } END { if (n) print opt }')
	for section in SIGNALS "EXIT STATUS" ENVIRONMENT FILES; do
		grep -q "^$section" <<<"$page" || fail "man page: no $section section"
	done
	for code in 0 2 69 70 71 75 77 78; do
		grep -qE "^ +$code +" <<<"$page" || fail "man page: exit code $code"
	done
	grep -q SIGUSR2 <<<"$page" || fail "man page: no SIGUSR2"
	say "ok man page: renders with man, $options options with their PREFORK_* variables, signals, exit codes"
else
	say "man is missing on this host: the page's rendering was not checked"
fi
say "ok package: $(dpkg-deb -f "$deb" Version) $(dpkg-deb -f "$deb" Architecture), $(stat -c %s "$deb") bytes, Depends: $(dpkg-deb -f "$deb" Depends)"

boot_container

# 1. Install: the service is enabled and started by postinst, and serves on the default port.
t0=$(now)
T=120 in_ct dpkg -i /opt/prefork/prefork-server.deb >"$stage/dpkg.log" 2>&1 || { cat "$stage/dpkg.log"; fail "dpkg -i"; }
[ "$(in_ct systemctl is-enabled "$UNIT")" = enabled ] || fail "not enabled after install"
up() { [[ $(get /) == "200 "* ]]; }
wait_for 30 up || fail "GET / after install: $(get /)"
main=$(prop MainPID)
[ "$(in_ct readlink -f /proc/"$main"/exe)" = /usr/bin/prefork-server ] || fail "the service does not run /usr/bin/prefork-server"
in_ct /usr/bin/prefork-server --version | grep -q "commit" || fail "--version"
in_ct test -f /usr/share/man/man1/prefork-server.1.gz || fail "no man page installed"
say "ok install: enabled and serving in $(since "$t0") s, main pid $main, $(in_ct /usr/bin/prefork-server --version)"

# 2. The conffile is read: another port after a restart.
in_ct sh -c 'echo PREFORK_PORT=8081 >>/etc/default/prefork-server'
T=60 in_ct systemctl restart "$UNIT" || fail "restart after editing the conffile"
PORT=8081
wait_for 20 up || fail "GET / on 8081 after the conffile named it: $(get /)"
[[ $(PORT=8080 get /) == "000 "* ]] || fail "8080 still answers after the move to 8081"
say "ok conffile: PREFORK_PORT=8081 in /etc/default/prefork-server, the service moved there"

# 3. Reload.
main=$(prop MainPID)
T=60 in_ct systemctl reload "$UNIT" || fail "reload"
[[ $(prop StatusText) == *"generation 2"* ]] || fail "StatusText after reload: $(prop StatusText)"
[ "$(prop MainPID)" = "$main" ] || fail "the main pid changed on reload"
up || fail "GET after reload"
say "ok reload: \"$(prop StatusText)\""

# 4. Upgrade (the same version again: dpkg runs the upgrade path): the binary is upgraded in
# place, the main pid stays, the edited conffile is kept.
T=120 in_ct dpkg -i --force-confold /opt/prefork/prefork-server.deb >"$stage/dpkg.log" 2>&1 ||
	{ cat "$stage/dpkg.log"; fail "dpkg -i over the installed package"; }
upgraded() { [[ $(prop StatusText) == *"generation 3"* ]]; }
wait_for 30 upgraded || fail "no binary upgrade after the package upgrade: $(prop StatusText)"
[ "$(prop MainPID)" = "$main" ] || fail "the main pid changed on the package upgrade"
in_ct grep -qx PREFORK_PORT=8081 /etc/default/prefork-server || fail "the upgrade lost the edited conffile"
up || fail "GET after the package upgrade"
say "ok upgrade: in place (main pid $main, \"$(prop StatusText)\"), conffile kept"

# 5. Stop, and start again.
T=60 in_ct systemctl stop "$UNIT" || fail "stop"
[ "$(prop Result)" = success ] || fail "Result=$(prop Result) after stop"
T=60 in_ct systemctl start "$UNIT" || fail "start after stop"
wait_for 20 up || fail "GET after start"
say "ok stop and start: Result=success"

# 6. Remove: the service stops, the binary and units go, the conffile stays.
main=$(prop MainPID)
T=120 in_ct dpkg -r prefork-server >"$stage/dpkg.log" 2>&1 || { cat "$stage/dpkg.log"; fail "dpkg -r"; }
! in_ct test -e "/proc/$main" || fail "the master (pid $main) still runs after remove"
[[ $(get /) == "000 "* ]] || fail "still answering after remove"
! in_ct test -e /usr/bin/prefork-server || fail "the binary is left after remove"
! in_ct test -e /lib/systemd/system/prefork-server.service || fail "the unit is left after remove"
in_ct grep -qx PREFORK_PORT=8081 /etc/default/prefork-server || fail "remove took the conffile"
[ "$(in_ct dpkg-query -W -f '${db:Status-Status}' prefork-server)" = config-files ] ||
	fail "dpkg status after remove: $(in_ct dpkg-query -W -f '${db:Status-Status}' prefork-server)"
say "ok remove: stopped, binary and units gone, /etc/default/prefork-server kept (config-files)"

# 7. Purge: the conffile goes too.
T=60 in_ct dpkg -P prefork-server >"$stage/dpkg.log" 2>&1 || { cat "$stage/dpkg.log"; fail "dpkg -P"; }
! in_ct test -e /etc/default/prefork-server || fail "purge left the conffile"
! in_ct dpkg-query -W prefork-server >/dev/null 2>&1 || fail "still known to dpkg after purge"
say "ok purge: /etc/default/prefork-server removed"

say "all package checks passed in $(since "$booted") s"
