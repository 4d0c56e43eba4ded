#!/usr/bin/env bash
# Process isolation, side by side with the peers: runhv (release build),
# crun and runc from Debian, on the same busybox bundle, in one run.
#   1. `run` of /bin/true: create + start + wait + delete
#   2. create + start + delete of a `sleep` container
# plus the peak RSS of each runtime process.
#
# crun 1.8 refuses this host's hybrid cgroup layout, so everything runs in a
# private mount namespace with the empty cgroup2 tree unmounted (that changes
# nothing for runhv or runc, which use the v1 controllers either way).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-40}
if [[ -z "${RUNHV_BENCH_INNER:-}" ]]; then
  exec unshare -m env RUNHV_BENCH_INNER=1 bash "$0" "$@"
fi
mount --make-rprivate /
umount /sys/fs/cgroup/unified 2>/dev/null || true

runhv=${RUNHV:-$src/build/src/cli/runhv}
[[ -x "$runhv" ]] || { echo "bench: build first (make)" >&2; exit 1; }
work=$(mktemp -d /tmp/runhv-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
bash "$src/tests/lib/make-rootfs.sh" "$work/bundle/rootfs"
(cd "$work/bundle" && "$runhv" spec)
jq '.process.terminal = false | .process.args = ["/bin/true"] | del(.linux.resources)' \
  "$work/bundle/config.json" > "$work/c" && mv "$work/c" "$work/bundle/config.json"
cp -a "$work/bundle" "$work/sleep"
jq '.process.args = ["sleep", "1000"]' "$work/bundle/config.json" > "$work/sleep/config.json"

declare -A bin=([runhv]="$runhv" [crun]=$(command -v crun) [runc]=$(command -v runc))
cmds_run=()
cmds_cycle=()
for r in runhv crun runc; do
  cmds_run+=("-n" "$r" "${bin[$r]} --root $work/root-$r run --bundle $work/bundle b-$r")
  cmds_cycle+=("-n" "$r" "${bin[$r]} --root $work/root-$r create --bundle $work/sleep s-$r </dev/null >/dev/null 2>&1 && ${bin[$r]} --root $work/root-$r start s-$r && ${bin[$r]} --root $work/root-$r delete --force s-$r")
done

echo "== run /bin/true (create+start+wait+delete), $RUNS runs each"
hyperfine -N -w 5 -r "$RUNS" --export-json "$work/run.json" "${cmds_run[@]}" >/dev/null
echo "== create+start+delete of a sleep container, $RUNS runs each"
hyperfine -w 5 -r "$RUNS" --export-json "$work/cycle.json" "${cmds_cycle[@]}" >/dev/null

# Peak RSS of one `run` of each runtime (GNU time: the runtime process and
# the processes it waited for).
for r in runhv crun runc; do
  /usr/bin/time -f "$r %M" -a -o "$work/rss" "${bin[$r]}" --root "$work/root-$r" run --bundle "$work/bundle" "rss-$r" >/dev/null
done

/usr/bin/python3 - "$work" <<'P'
import json, sys
work = sys.argv[1]
rss = dict(l.split() for l in open(f"{work}/rss"))
for title, f in (("run /bin/true", "run.json"), ("create+start+delete (sleep)", "cycle.json")):
    res = {r["command"]: r for r in json.load(open(f"{work}/{f}"))["results"]}
    med = {k: v["median"] * 1000 for k, v in res.items()}
    print(f"\n{title}")
    print(f"  {'runtime':8s} {'median ms':>10s} {'mean ms':>9s} {'stddev':>7s}")
    for k in ("runhv", "crun", "runc"):
        print(f"  {k:8s} {med[k]:10.2f} {res[k]['mean']*1000:9.2f} {res[k]['stddev']*1000:7.2f}")
    print(f"  ratio runhv/crun = {med['runhv']/med['crun']:.2f}   runhv/runc = {med['runhv']/med['runc']:.2f}")
print("\npeak RSS of one run (the runtime and what it waited for), KiB")
for k in ("runhv", "crun", "runc"):
    print(f"  {k:8s} {rss[k]:>8s}")
P
