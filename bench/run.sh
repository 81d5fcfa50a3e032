#!/usr/bin/env bash
# `make bench`: ForkKit's Process start+join next to Python multiprocessing's (spawn and fork)
# and the C floor, all measured in this one run on this machine, then a summary table whose
# ratios are computed from the numbers printed above it.
# Usage: bash bench/run.sh [CONFIG]   (CONFIG: Release by default, as in the Makefile)
# The reference programs (Python's side and the C floor) are read from $FORKKIT_REFERENCE, by
# default bench/reference in this repository.
set -euo pipefail

CONFIG="${1:-Release}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOTNET="${DOTNET:-dotnet}"
REFERENCE="${FORKKIT_REFERENCE:-$REPO/bench/reference}"

N_FORKKIT=30
N_PY_SPAWN=30
N_PY_FORK=100
N_POOL=100000

N_FORKSERVER=200
N_FORKSERVER_MANY=10000

REFERENCE_FILES=(start_join.py pool_map.py lock.py child_memory.py limit.c)
if [[ -n "${FORKKIT_REFERENCE:-}" ]]; then from="\$FORKKIT_REFERENCE"; else from="the default, bench/reference"; fi
if [[ ! -d "$REFERENCE" ]]; then
    echo "bench: reference folder not found: $REFERENCE ($from)" >&2
    echo "bench: unset FORKKIT_REFERENCE to use bench/reference, or point it at a folder holding ${REFERENCE_FILES[*]}" >&2
    exit 1
fi
for f in "${REFERENCE_FILES[@]}"; do
    if [[ ! -f "$REFERENCE/$f" ]]; then
        echo "bench: reference file $f not found in $REFERENCE ($from)" >&2
        echo "bench: the folder must hold ${REFERENCE_FILES[*]}, as bench/reference does" >&2
        exit 1
    fi
done
REFERENCE="$(cd "$REFERENCE" && pwd)"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# Pulls the ms/process figure out of a "... start+join: 12.3 ms/process ..." line.
ms_of() { sed -n 's/.*start+join: \([0-9.]*\) ms\/process.*/\1/p' <<<"$1" | head -n 1; }

have_python=1
if ! command -v python3 >/dev/null 2>&1; then
    have_python=0
fi

echo "== machine"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpus:    $(nproc) (nproc)"
echo "kernel:  $(uname -r) (uname -r)"
echo "dotnet:  $("$DOTNET" --version)"
if (( have_python )); then
    echo "python:  $(python3 --version 2>&1) ($(command -v python3))"
else
    echo "python:  python3 not found on PATH: the Python rows are skipped"
fi
echo "config:  $CONFIG"
echo "reference programs: $REFERENCE"
echo

echo "== build bench/ForkKit.Bench ($CONFIG)"
if ! (cd "$REPO" && "$DOTNET" build bench/ForkKit.Bench -c "$CONFIG" -v quiet --nologo) >"$TMP/build.log" 2>&1; then
    cat "$TMP/build.log" >&2
    echo "bench: building bench/ForkKit.Bench failed (output above)" >&2
    exit 1
fi
echo "built"
echo

echo "== ForkKit: Process(Noop) start+join, StartMethod.Spawn (3 warm-up runs, then N=$N_FORKKIT)"
forkkit_out="$("$DOTNET" "$REPO/bench/ForkKit.Bench/bin/$CONFIG/net10.0/ForkKit.Bench.dll" start-join "$N_FORKKIT")"
echo "$forkkit_out"
forkkit_ms="$(ms_of "$forkkit_out")"
forkkit_rss="$(sed -n 's/.*worker peak RSS \([0-9.]*\) MiB.*/\1/p' <<<"$forkkit_out")"
worker_hwm="$(sed -n "s/.*worker's own VmHWM \([0-9.]*\) MiB.*/\1/p" <<<"$forkkit_out")"
parent_rss="$(sed -n "s/.*bench parent's peak RSS \([0-9.]*\) MiB.*/\1/p" <<<"$forkkit_out")"
echo

echo "== ForkKit: Process(Noop) start+join, StartMethod.ForkServer (the first boots the server; 3 warm-up runs, then N=$N_FORKSERVER)"
forkserver_out="$("$DOTNET" "$REPO/bench/ForkKit.Bench/bin/$CONFIG/net10.0/ForkKit.Bench.dll" start-join "$N_FORKSERVER" forkserver)"
echo "$forkserver_out"
forkserver_ms="$(ms_of "$forkserver_out")"
echo

py_spawn_ms=""
py_fork_ms=""
if (( have_python )); then
    echo "== Python multiprocessing: Process(noop) start+join ($REFERENCE/start_join.py)"
    py_spawn_out="$(python3 "$REFERENCE/start_join.py" spawn "$N_PY_SPAWN")"
    echo "$py_spawn_out (N=$N_PY_SPAWN)"
    py_fork_out="$(python3 "$REFERENCE/start_join.py" fork "$N_PY_FORK")"
    echo "$py_fork_out (N=$N_PY_FORK)"
    py_spawn_ms="$(ms_of "$py_spawn_out")"
    py_fork_ms="$(ms_of "$py_fork_out")"
    echo
fi

c_fork_us=""
c_exec_us=""
echo "== C floor: raw system calls, no runtime ($REFERENCE/limit.c, cc -O2)"
if command -v cc >/dev/null 2>&1; then
    cc -O2 -o "$TMP/limit" "$REFERENCE/limit.c" -lpthread
    c_out="$("$TMP/limit")"
    echo "$c_out"
    c_fork_us="$(sed -n 's/^fork+_exit+waitpid: \([0-9.]*\) us.*/\1/p' <<<"$c_out")"
    c_exec_us="$(sed -n 's/^fork+exec(\/bin\/true)+waitpid: \([0-9.]*\) us.*/\1/p' <<<"$c_out")"
else
    echo "cc not found on PATH: the C floor is skipped"
fi
echo

echo "== Pool(2): startup, map of $N_POOL squares, $((N_POOL / 10)) apply_async (ForkKit and $REFERENCE/pool_map.py)"
pool_fk="$("$DOTNET" "$REPO/bench/ForkKit.Bench/bin/$CONFIG/net10.0/ForkKit.Bench.dll" pool "$N_POOL" 2)"
echo "$pool_fk"
pool_fs="$("$DOTNET" "$REPO/bench/ForkKit.Bench/bin/$CONFIG/net10.0/ForkKit.Bench.dll" pool "$N_POOL" 2 forkserver)"
echo "$pool_fs"
pool_py_spawn=""
pool_py_fork=""
if (( have_python )); then
    pool_py_spawn="$(python3 "$REFERENCE/pool_map.py" spawn "$N_POOL" 2)"
    echo "$pool_py_spawn"
    pool_py_fork="$(python3 "$REFERENCE/pool_map.py" fork "$N_POOL" 2)"
    echo "$pool_py_fork"
fi
echo

echo "== Imap over a lazy sequence (ForkServer Pool(2), chunks of 10,000): the parent's peak RSS must not grow with the input"
imap_1m="$("$DOTNET" "$REPO/bench/ForkKit.Bench/bin/$CONFIG/net10.0/ForkKit.Bench.dll" imap 1000000)"
echo "$imap_1m"
imap_10m="$("$DOTNET" "$REPO/bench/ForkKit.Bench/bin/$CONFIG/net10.0/ForkKit.Bench.dll" imap 10000000)"
echo "$imap_10m"
echo

echo "== child memory: a running child's Private_Dirty, Rss and Pss (/proc/PID/smaps_rollup, 300 ms after start)"
mem_fk_spawn="$("$DOTNET" "$REPO/bench/ForkKit.Bench/bin/$CONFIG/net10.0/ForkKit.Bench.dll" child-memory spawn)"
echo "$mem_fk_spawn"
mem_fk_fs="$("$DOTNET" "$REPO/bench/ForkKit.Bench/bin/$CONFIG/net10.0/ForkKit.Bench.dll" child-memory forkserver)"
echo "$mem_fk_fs"
mem_py_fork=""
mem_py_spawn=""
if (( have_python )); then
    mem_py_fork="python $(python3 "$REFERENCE/child_memory.py" fork)"
    echo "$mem_py_fork"
    mem_py_spawn="python $(python3 "$REFERENCE/child_memory.py" spawn)"
    echo "$mem_py_spawn"
fi
echo

echo "== reliability: $N_FORKSERVER_MANY ForkServer children, a fifth each returning, throwing, allocating and collecting, using the thread pool, terminated"
many_fs="$("$DOTNET" "$REPO/bench/ForkKit.Bench/bin/$CONFIG/net10.0/ForkKit.Bench.dll" forkserver-many "$N_FORKSERVER_MANY" 2>/dev/null)" || true
echo "$many_fs"
echo

echo "== Lock: uncontended acquire+release (ForkKit and $REFERENCE/lock.py), then contended"
lock_fk="$("$DOTNET" "$REPO/bench/ForkKit.Bench/bin/$CONFIG/net10.0/ForkKit.Bench.dll" lock 10000000)"
echo "$lock_fk"
lock_py=""
if (( have_python )); then
    lock_py="$(python3 "$REFERENCE/lock.py")"
    echo "python $lock_py"
fi
echo

echo "== summary (this run; ratio = ForkKit spawn ms / the row's ms)"
awk -v fk="$forkkit_ms" -v ps="$py_spawn_ms" -v pf="$py_fork_ms" \
    -v cf="$c_fork_us" -v ce="$c_exec_us" -v fs="$forkserver_ms" -v nfs="$N_FORKSERVER" \
    -v nfk="$N_FORKKIT" -v nps="$N_PY_SPAWN" -v npf="$N_PY_FORK" \
    -v rss="$forkkit_rss" -v hwm="$worker_hwm" -v prss="$parent_rss" '
    function row(label, n, ms) {
        if (ms == "") { printf "%-40s %8s %12s %14s\n", label, "-", "skipped", "-"; return }
        printf "%-40s %8s %12.3f %13.2fx\n", label, n, ms, fk / ms
    }
    BEGIN {
        printf "%-40s %8s %12s %14s\n", "start+join of one process", "N", "ms/process", "ForkKit/this"
        row("ForkKit spawn (.NET worker host)", nfk, fk)
        row("ForkKit forkserver (forked by the server)", nfs, fs)
        row("Python multiprocessing spawn", nps, ps)
        row("Python multiprocessing fork", npf, pf)
        row("C fork+exec(/bin/true)+waitpid", 300, ce == "" ? "" : ce / 1000)
        row("C fork+_exit+waitpid", 1000, cf == "" ? "" : cf / 1000)
        print ""
        if (ps != "") printf "ForkKit / Python spawn: %.2fx\n", fk / ps
        if (pf != "") printf "ForkKit / Python fork:  %.2fx\n", fk / pf
        if (pf != "" && fs != "") printf "ForkKit forkserver / Python fork: %.2fx; the C floor (fork+_exit+waitpid) is %.3f ms\n", fs / pf, cf / 1000
        printf "ForkKit worker peak RSS: %s MiB (getrusage RUSAGE_CHILDREN ru_maxrss: largest resident set of any reaped child)\n", rss
        printf "  the worker'"'"'s own VmHWM: %s MiB; the bench parent'"'"'s peak: %s MiB. ForkKit spawns with\n", hwm, prss
        printf "  vfork+execve, and Linux counts the parent'"'"'s resident set into the child'"'"'s ru_maxrss at execve,\n"
        printf "  so ru_maxrss is max(parent at spawn, worker) and VmHWM is the worker'"'"'s own figure.\n"
    }'

echo
echo "== pool summary (this run; ratio = ForkKit / the row: below 1 is faster)"
# pool_field LINE KEY: the number after "startup", "items:" or "[0-9]+:" in a pool_map.py-style line.
pool_field() {
    case "$2" in
        startup) sed -n 's/.*startup \([0-9.]*\) ms.*/\1/p' <<<"$1" ;;
        map)     sed -n 's/.*items: \([0-9.]*\) us.item.*/\1/p' <<<"$1" ;;
        apply)   sed -n 's/.*apply_async [0-9]*: \([0-9.]*\) us.task.*/\1/p' <<<"$1" ;;
    esac
}
awk -v fs="$(pool_field "$pool_fk" startup)" -v fm="$(pool_field "$pool_fk" map)" -v fa="$(pool_field "$pool_fk" apply)" \
    -v vs="$(pool_field "$pool_fs" startup)" -v vm="$(pool_field "$pool_fs" map)" -v va="$(pool_field "$pool_fs" apply)" \
    -v ss="$(pool_field "$pool_py_spawn" startup)" -v sm="$(pool_field "$pool_py_spawn" map)" -v sa="$(pool_field "$pool_py_spawn" apply)" \
    -v ks="$(pool_field "$pool_py_fork" startup)" -v km="$(pool_field "$pool_py_fork" map)" -v ka="$(pool_field "$pool_py_fork" apply)" '
    function r(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.2fx", a / b) }
    BEGIN {
        printf "%-22s %14s %14s %14s %14s %16s %18s\n", "Pool(2)", "ForkKit spawn", "ForkKit fsrv", "Python spawn", "Python fork", "spawn/py spawn", "forkserver/py fork"
        printf "%-22s %14s %14s %14s %14s %16s %18s\n", "startup (ms)", fs, vs, ss, ks, r(fs, ss), r(vs, ks)
        printf "%-22s %14s %14s %14s %14s %16s %18s\n", "map (us/item)", fm, vm, sm, km, r(fm, sm), r(vm, km)
        printf "%-22s %14s %14s %14s %14s %16s %18s\n", "apply_async (us/task)", fa, va, sa, ka, r(fa, sa), r(va, ka)
    }'

echo
echo "== lock summary (this run)"
awk -v fk="$(sed -n 's/^forkkit Lock acquire+release: \([0-9.]*\) ns.*/\1/p' <<<"$lock_fk")" \
    -v ct="$(sed -n 's/^forkkit Lock contended by two processes: \([0-9.]*\) ns.*/\1/p' <<<"$lock_fk")" \
    -v py="$(sed -n 's/.*acquire+release: \([0-9.]*\) ns.*/\1/p' <<<"$lock_py")" \
    -v c="$(sed -n 's/^sem_wait+sem_post: \([0-9.]*\) ns.*/\1/p' <<<"${c_out:-}")" \
    -v ho="$(sed -n 's/^forkkit hand-off.*: \([0-9.]*\) us one way.*/\1/p' <<<"$lock_fk")" '
    BEGIN {
        printf "%-44s %10s\n", "acquire+release", "ns"
        printf "%-44s %10s\n", "ForkKit Lock, uncontended", fk
        printf "%-44s %10s\n", "Python multiprocessing.Lock, uncontended", (py == "" ? "-" : py)
        printf "%-44s %10s\n", "C sem_wait+sem_post (the floor)", (c == "" ? "-" : c)
        printf "%-44s %10s\n", "ForkKit Lock, two processes contending", ct
        printf "%-44s %10s\n", "hand-off to a waiting process (us, one way)", ho
        if (py != "") printf "ForkKit / Python: %.2fx (target: at most 0.5x)\n", fk / py
    }'

echo
echo "== targets (each ratio from numbers measured above, in this run)"
# target NAME FORKKIT PYTHON UNIT LIMIT: one line, MET when forkkit/python <= LIMIT.
target() {
    awk -v name="$1" -v fk="$2" -v py="$3" -v unit="$4" -v limit="$5" 'BEGIN {
        if (fk == "" || py == "" || py == 0) { printf "%s: not measured in this run (python3 missing?)\n", name; exit }
        r = fk / py
        printf "%s: forkkit %s %s, python %s %s, ratio %.2f x (target <= %s x) %s\n", name, fk, unit, py, unit, r, limit, (r <= limit ? "MET" : "MISSED")
    }'
}
target "spawn start+join vs python spawn" "$forkkit_ms" "$py_spawn_ms" "ms" 1.0
mem_of() { sed -n 's/.*Private_Dirty \([0-9.]*\) MiB.*/\1/p' <<<"$1"; }
target "forkserver start+join vs python fork" "$forkserver_ms" "$py_fork_ms" "ms" 0.7
target "pool startup forkserver vs python fork" "$(pool_field "$pool_fs" startup)" "$(pool_field "$pool_py_fork" startup)" "ms" 1.0
target "map first vs python fork" "$(pool_field "$pool_fs" map)" "$(pool_field "$pool_py_fork" map)" "us/item" 0.5
warm_of() { sed -n 's/.*on the warm pool: \([0-9.]*\) us.item.*/\1/p' <<<"$1"; }
target "map warm vs python fork" "$(warm_of "$pool_fs")" "$(warm_of "$pool_py_fork")" "us/item" 0.5
target "apply_async vs python fork" "$(pool_field "$pool_fs" apply)" "$(pool_field "$pool_py_fork" apply)" "us/task" 0.5
target "child memory forkserver vs python fork" "$(mem_of "$mem_fk_fs")" "$(mem_of "$mem_py_fork")" "MiB" 1.0
rss_of() { sed -n 's/.*parent peak RSS \([0-9.]*\) MiB.*/\1/p' <<<"$1"; }
awk -v big="$(rss_of "$imap_10m")" -v small="$(rss_of "$imap_1m")" 'BEGIN {
    if (big == "" || small == "") { print "imap 10M lazy: not measured in this run"; exit }
    r = big / small
    printf "imap 10M lazy: forkkit %s MiB (10,000,000 items), baseline %s MiB (1,000,000 items), ratio %.2f x (target <= 1.2 x) %s\n", big, small, r, (r <= 1.2 ? "MET" : "MISSED")
}'
target "lock vs python" "$(sed -n 's/^forkkit Lock acquire+release: \([0-9.]*\) ns.*/\1/p' <<<"$lock_fk")" \
    "$(sed -n 's/.*acquire+release: \([0-9.]*\) ns.*/\1/p' <<<"$lock_py")" "ns" 0.5
