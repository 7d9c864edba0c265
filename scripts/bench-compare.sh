#!/usr/bin/env bash
# Compares the HTTP throughput of two commits in one session on one machine: builds the release
# benchmark servers of BASE (a git worktree) and of the working tree, then runs
# scripts/bench_http.py on each, one after the other, for SessionKit's configurations.
#
#   bash scripts/bench-compare.sh BASE_COMMIT [ROUNDS] [SECONDS]   (defaults 2 rounds of 3 s)
#
# Writes .build-bench/compare/{base,head}/results.csv and compare.md (head/base per route, raw
# and normalised by each run's bare framework). Needs PostgreSQL and Redis from
# scripts/services.sh (started and stopped here). Takes about 25 minutes with a cold
# .build-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
base=${1:?usage: bench-compare.sh BASE_COMMIT [ROUNDS] [SECONDS]}
rounds=${2:-2}
seconds=${3:-3}
OUT="$ROOT/.build-bench/compare"
mkdir -p "$OUT"
worktree=$(mktemp -d)
trap 'git worktree remove --force "$worktree" >/dev/null 2>&1 || true; bash scripts/services.sh stop >/dev/null 2>&1 || true' EXIT
git worktree add -f "$worktree" "$base" >/dev/null
for side in base head; do
    dir=$([ "$side" = base ] && echo "$worktree" || echo "$ROOT")
    (cd "$dir/Benchmarks" && swift build -c release --scratch-path "$ROOT/.build-bench")
    bin=$(cd "$dir/Benchmarks" && swift build -c release --scratch-path "$ROOT/.build-bench" --show-bin-path)
    mkdir -p "$OUT/$side-bin"
    cp "$bin/BenchHummingbird" "$bin/BenchVapor" "$OUT/$side-bin/"
done
bash scripts/services.sh install >&2
eval "$(bash scripts/services.sh start)"
only=Hummingbird/sessionkit-memory,Hummingbird/sessionkit-cookie,Hummingbird/sessionkit-sqlite,Hummingbird/sessionkit-postgres
only=$only,Hummingbird/sessionkit-redis,Vapor/sessionkit-memory,Vapor/sessionkit-postgres,Vapor/sessionkit-redis
for side in base head; do
    python3 scripts/bench_http.py --bin-dir "$OUT/$side-bin" --out "$OUT/$side" --only "$only" \
        --rounds "$rounds" --seconds "$seconds" --warmup 1
done
python3 - "$OUT" <<'PY' | tee "$OUT/compare.md"
import csv, sys
out = sys.argv[1]
def load(side):
    return {(r["framework"], r["configuration"], r["route"]): r for r in csv.DictReader(open(f"{out}/{side}/results.csv"))}
base, head = load("base"), load("head")
print("| framework | configuration | route | base req/s (ratio to bare) | head req/s (ratio to bare) | head/base raw | head/base by ratio |")
print("|---|---|---|---|---|---|---|")
for key, b in base.items():
    if key not in head:
        continue
    h = head[key]
    rb, rh, qb, qh = float(b["rps"]), float(h["rps"]), float(b["ratio"]), float(h["ratio"])
    print(f"| {key[0]} | {key[1]} | {key[2]} | {rb:,.0f} ({qb:.2f}) | {rh:,.0f} ({qh:.2f}) | {rh / rb:.3f} | {qh / qb:.3f} |")
PY
