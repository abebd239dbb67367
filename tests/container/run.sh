#!/usr/bin/env bash
# The container image and the Kubernetes manifests. Parses deploy/kubernetes/*.yaml and checks
# they agree with the image (user, port, workers against the CPU limit, the grace period
# against drain delay plus shutdown timeout); then, as root with podman, builds the image with
# packaging/container/build.sh and runs it as the manifests would (read-only root, no
# capabilities, no new privileges): it answers, every process runs as the image's user, the
# HEALTHCHECK passes, --version works, and a stop with a request in flight is graceful (the
# request completes, /healthz says 503 during the drain delay, exit code 0). Bounded in time;
# removes the containers and image tags it created, nothing else; exits 0 with "SKIP: ..." where
# the machine cannot run it.
#
#   tests/container/run.sh                          # as root; builds the release binary
#   PREFORK_BIN=target/release/prefork-server tests/container/run.sh
#
# Podman runs the containers with runc when it is installed (crun fails on some cgroup setups)
# and with explicit open-file and process limits at most the host's hard limits (podman's
# defaults are higher than some hosts allow). PREFORK_CONTAINER_OPTS replaces those options.
set -euo pipefail
cd "$(dirname "$0")/../.."

UID_=10001 # packaging/container/build.sh, the Containerfile's USER, deploy/kubernetes/
IMAGE=localhost/prefork-ci-$$
CT=prefork-ci-$$

skip() {
	echo "SKIP: $*"
	exit 0
}
say() { echo "container: $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
started=$(now)

# 1. The manifests: they parse, and they agree with the image. Needs only python3 with PyYAML.
if command -v python3 >/dev/null && python3 -c 'import yaml' 2>/dev/null; then
	python3 - deploy/kubernetes packaging/container/Containerfile "$UID_" <<'EOF' || { echo "FAIL: the manifests" >&2; exit 1; }
import os, re, sys, yaml

directory, containerfile, uid = sys.argv[1], sys.argv[2], int(sys.argv[3])
docs = {}
for name in sorted(os.listdir(directory)):
    if name.endswith(".yaml"):
        for doc in yaml.safe_load_all(open(os.path.join(directory, name))):
            assert doc and doc.get("apiVersion") and doc.get("kind"), f"{name}: no apiVersion/kind"
            docs[doc["kind"]] = doc
kinds = sorted(docs)
assert {"Deployment", "Service", "Kustomization"} <= set(kinds), kinds
for res in docs["Kustomization"]["resources"]:
    assert os.path.exists(os.path.join(directory, res)), f"kustomization: {res} is missing"

def seconds(d):
    m = re.fullmatch(r"(\d+)(ms|s|m)?", d)
    assert m, f"duration {d}"
    return int(m[1]) * {"ms": 0.001, "s": 1, None: 1, "m": 60}[m[2]]

def cpus(q):
    q = str(q)
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)

image = open(containerfile).read()
image_user = re.search(r"^USER (\d+):(\d+)", image, re.M)
image_port = int(re.search(r"^EXPOSE (\d+)", image, re.M)[1])
dep = docs["Deployment"]
pod = dep["spec"]["template"]["spec"]
labels = dep["spec"]["template"]["metadata"]["labels"]
assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items(), "selector vs pod labels"
(c,) = pod["containers"]
args = c["args"]
opt = lambda name, default: args[args.index(name) + 1] if name in args else default
workers = int(opt("--workers", "0"))
drain, shutdown = seconds(opt("--drain-delay", "0s")), seconds(opt("--shutdown-timeout", "30s"))
grace = pod["terminationGracePeriodSeconds"]
assert grace > drain + shutdown, f"grace {grace} <= drain {drain} + shutdown {shutdown}"
limit = cpus(c["resources"]["limits"]["cpu"])
assert workers == limit, f"--workers {workers} != cpu limit {limit}"
psc, csc = pod["securityContext"], c["securityContext"]
assert psc["runAsNonRoot"] and psc["runAsUser"] == uid and psc["runAsGroup"] == uid, psc
assert image_user and int(image_user[1]) == uid and int(image_user[2]) == uid, "image USER"
assert psc["seccompProfile"]["type"] == "RuntimeDefault", psc
assert csc["readOnlyRootFilesystem"] and csc["allowPrivilegeEscalation"] is False, csc
assert csc["capabilities"]["drop"] == ["ALL"], csc
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
assert image_port in ports.values(), f"EXPOSE {image_port} vs {ports}"
ready, live = c["readinessProbe"], c["livenessProbe"]
for probe in (ready, live):
    assert probe["httpGet"]["path"] == "/healthz" and probe["httpGet"]["port"] in ports, probe
# The readiness probe notices the drain delay; the liveness probe never restarts a draining pod.
assert ready["periodSeconds"] * ready.get("failureThreshold", 3) <= drain / 2, ready
assert live["periodSeconds"] * live.get("failureThreshold", 3) > drain, live
svc = docs["Service"]
assert svc["spec"]["selector"].items() <= labels.items(), "service selector vs pod labels"
for p in svc["spec"]["ports"]:
    assert p["targetPort"] in ports or p["targetPort"] in ports.values(), p
if "PodDisruptionBudget" in docs:
    sel = docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]
    assert sel.items() <= labels.items(), "PDB selector vs pod labels"
print(f"container: ok manifests: {len(docs)} documents ({', '.join(kinds)}) parse; uid {uid} = image USER; "
      f"port {image_port} = EXPOSE; cpu limit {limit:g} = --workers {workers}; "
      f"grace {grace} s > drain {drain:g} s + shutdown {shutdown:g} s; "
      f"readiness {ready['periodSeconds']}x{ready['failureThreshold']} s, "
      f"liveness {live['periodSeconds']}x{live['failureThreshold']} s")
EOF
else
	say "manifests NOT checked: python3 with PyYAML is missing (apt-get install python3-yaml)"
fi

[ "$(id -u)" = 0 ] || skip "needs root (podman, /proc of the container's processes)"
command -v podman >/dev/null || skip "podman is missing (apt-get install podman)"
command -v curl >/dev/null || skip "curl is missing"

if [ -n "${PREFORK_BIN:-}" ]; then
	bin=$PREFORK_BIN
else
	timeout 1800 cargo build --release --locked
	bin=target/release/prefork-server
fi

if [ -n "${PREFORK_CONTAINER_OPTS:-}" ]; then
	read -ra run_opts <<<"$PREFORK_CONTAINER_OPTS"
else
	run_opts=()
	command -v runc >/dev/null && run_opts+=(--runtime runc)
	# min(host hard limit, cap): podman would ask for more than some hosts allow.
	cap() { local hard=$1; if [ "$hard" = unlimited ] || [ "$hard" -gt "$2" ]; then echo "$2"; else echo "$hard"; fi; }
	nofile=$(cap "$(ulimit -Hn)" 65536)
	nproc=$(cap "$(ulimit -Hu)" 4096)
	run_opts+=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
fi

work=$(mktemp -d /tmp/prefork-container.XXXXXX)
containers=()
tags=()
cleanup() {
	local c
	for c in "${containers[@]}"; do
		timeout 60 podman rm -f "$c" >/dev/null 2>&1 || true
	done
	# Only the tags this run made: an image of the same content tagged otherwise stays.
	[ "${#tags[@]}" = 0 ] || timeout 60 podman rmi "${tags[@]}" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
# Every podman call bounded; its chatter (podman without systemd complains about health check
# timers on every start and stop) goes to a log shown on failure.
pm() { timeout "${T:-60}" podman "$@" 2>>"$work/podman.log"; }
# The container's output (its stderr, where the server logs, comes out on podman's stderr).
ct_logs() { timeout 30 podman logs "$CT" 2>&1; }
fail() {
	echo "FAIL: $*" >&2
	tail -15 "$work/podman.log" >&2 2>/dev/null || true
	if [ -n "${ct_started:-}" ]; then
		echo "-- podman logs $CT:" >&2
		timeout 10 podman logs --tail 30 "$CT" >&2 2>&1 || true
	fi
	exit 1
}
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
get() { curl -s -m "${2:-5}" -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$port$1" || true; }
free_port() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
	else
		echo $((20000 + RANDOM % 30000))
	fi
}

# 2. Build: build.sh stages the root and builds the image, tagged IMAGE:VERSION and :latest.
version=$("$bin" --version | awk '{ print $2 }')
tags=("$IMAGE:$version" "$IMAGE:latest")
t0=$(now)
PREFORK_BIN=$bin PREFORK_IMAGE=$IMAGE CONTAINER_ENGINE=podman timeout 300 \
	packaging/container/build.sh >"$work/build.log" 2>&1 || { tail -20 "$work/build.log"; fail "build.sh"; }
took=$(since "$t0")
read -r id size < <(pm image inspect --format '{{.Id}} {{.Size}}' "$IMAGE:latest") || fail "no image $IMAGE:latest"
health=$(pm image inspect --format '{{json .HealthCheck}}' "$IMAGE:latest")
[[ $health == *'"/usr/bin/prefork-server","healthcheck"'* ]] || fail "no HEALTHCHECK in the image: $health"
[ "$(pm image inspect --format '{{.Config.User}}' "$IMAGE:latest")" = "$UID_:$UID_" ] || fail "the image's USER is not $UID_:$UID_"
mb() { awk -v s="$1" 'BEGIN { printf "%.1f MB", s / 1e6 }'; }
say "ok build: $IMAGE:$version in $took s, image ${id:0:12}, $size bytes ($(mb "$size")); binary $(stat -c %s "$bin") bytes before --strip-debug; HEALTHCHECK and USER $UID_:$UID_ kept"

# 3. --version inside the image. Podman's own failure (125: it cannot create a container here)
# is a machine that cannot run the test, not a broken image.
containers+=("$CT-version")
set +e
inside=$(pm run --rm --name "$CT-version" "${run_opts[@]}" "$IMAGE:latest" --version)
rc=$?
set -e
if [ "$rc" = 125 ]; then
	tail -5 "$work/podman.log"
	skip "podman cannot run a container here (see above; options: ${run_opts[*]})"
fi
[ "$rc" = 0 ] && [ "$inside" = "$("$bin" --version)" ] || fail "--version in the image: rc $rc, '$inside'"
say "ok --version in the image: $inside"

# 4. Start as Kubernetes would run it: read-only root, no capabilities, no new privileges.
# Port publishing (-p) first; host networking if the host's port forwarding does not work.
port=$(free_port)
start() {
	ct_started=1
	containers+=("$CT")
	pm run -d --name "$CT" "${run_opts[@]}" "$@" \
		--read-only --cap-drop all --security-opt no-new-privileges \
		-e PREFORK_WORKERS=2 -e PREFORK_DRAIN_DELAY=2s -e PREFORK_SHUTDOWN_TIMEOUT=20s \
		"$IMAGE:latest" >/dev/null || fail "podman run $*"
}
answers() { [[ $(get / 1) == "200 "* ]]; }
t0=$(now)
start -p "127.0.0.1:$port:8080"
network="-p 127.0.0.1:$port:8080"
if ! wait_for 10 answers; then
	ct_logs | grep -q "listening on" || fail "the server did not start"
	say "port publishing (-p) does not reach the server here; host networking instead"
	pm rm -f "$CT" >/dev/null || true
	start --network host -e PREFORK_PORT="$port"
	network="--network host, PREFORK_PORT=$port"
	wait_for 10 answers || fail "GET / on port $port"
fi
took=$(since "$t0")
ready=$(ct_logs | grep -m1 "listening on" || true)
[[ $ready == '{"timestamp":'*'"message":"listening on '* ]] || fail "no JSON readiness line: $ready"
say "ok run: GET / answers 200 after $took s ($network); JSON log: $(grep -o '"message":"listening on [^"]*","workers":[0-9]*' <<<"$ready")"

# 5. Every process of the container (master and workers) runs as the image's user, with no
# capabilities and no_new_privs.
master=$(pm inspect --format '{{.State.Pid}}' "$CT")
[ -n "$master" ] && [ "$master" != 0 ] || fail "no pid for $CT"
procs=("$master" $(pgrep -P "$master" || true))
[ "${#procs[@]}" = 3 ] || fail "expected a master and 2 workers, found pids ${procs[*]}"
rss=0
for pid in "${procs[@]}"; do
	status=$(cat "/proc/$pid/status")
	grep -Eq "^Uid:\s+$UID_\s+$UID_\s+$UID_\s+$UID_$" <<<"$status" || fail "pid $pid: $(grep ^Uid <<<"$status")"
	grep -Eq "^Gid:\s+$UID_\s+$UID_\s+$UID_\s+$UID_$" <<<"$status" || fail "pid $pid: $(grep ^Gid <<<"$status")"
	grep -Eq "^CapEff:\s+0+$" <<<"$status" || fail "pid $pid: $(grep ^CapEff <<<"$status")"
	grep -Eq "^NoNewPrivs:\s+1$" <<<"$status" || fail "pid $pid: $(grep ^NoNewPrivs <<<"$status")"
	rss=$((rss + $(awk '/^VmRSS/ { print $2 }' <<<"$status")))
done
users=$(pm top "$CT" user huser 2>/dev/null | awk 'NR > 1 { printf "%s%s(%s)", sep, $1, $2; sep = " " }' || true)
say "ok user: master $master and workers ${procs[*]:1} run as uid/gid $UID_ (podman top: ${users:-n/a}), CapEff 0, NoNewPrivs 1, RSS $((rss / 1024)) MiB together"

# 6. The HEALTHCHECK: podman runs the image's command in the container; a wrong port fails.
if out=$(pm healthcheck run "$CT" 2>&1); then
	how="podman healthcheck run: exit 0"
else
	how="podman healthcheck run unavailable ($(tail -1 "$work/podman.log")); podman exec"
	pm exec "$CT" /usr/bin/prefork-server healthcheck >/dev/null || fail "prefork-server healthcheck in the container"
fi
state=$(pm inspect --format '{{.State.Health.Status}}' "$CT" || true)
set +e
pm exec "$CT" /usr/bin/prefork-server healthcheck --port 1 --timeout 1s >/dev/null 2>&1
bad=$?
set -e
[ "$bad" = 1 ] || fail "healthcheck on a closed port exited $bad, not 1"
say "ok healthcheck: $how${out:+ ($out)}, health ${state:-n/a}; on a closed port it exits $bad"

# 7. Graceful stop with a request in flight: SIGTERM, /healthz 503 for the 2 s drain delay,
# the /delay/4 in flight (answering after the drain) completes, exit code 0.
get /delay/4 15 >"$work/inflight" &
inflight=$!
sleep 0.5
t0=$(now)
T=60 pm stop -t 30 "$CT" >/dev/null &
stopper=$!
draining() { [[ $(get /healthz 1) == "503 "* ]]; }
wait_for 2 draining && drain="503 during the drain delay" || drain="no 503 seen"
wait "$stopper" || fail "podman stop"
took=$(since "$t0")
wait "$inflight" || true
answer=$(cat "$work/inflight")
code=$(pm inspect --format '{{.State.ExitCode}}' "$CT")
[[ $answer == "200 "* ]] || fail "the request in flight during the stop got: '$answer'"
[ "$drain" != "no 503 seen" ] || fail "/healthz did not answer 503 while draining"
[ "$code" = 0 ] || fail "exit code $code after podman stop"
say "ok stop: /healthz $drain, the /delay/4 in flight answered (HTTP ${answer% *}, ${answer#* } bytes), podman stop took $took s, exit code $code"

say "ok image size: $size bytes ($(mb "$size")) for $IMAGE:$version"
say "all checks passed in $(since "$started") s"
