#!/usr/bin/env bash
# SessionKit's HTTP benchmark: builds the release benchmark servers (Benchmarks/), starts
# PostgreSQL and Redis (scripts/services.sh), runs scripts/bench_http.py, and stops the
# services it started.
#
#   bash scripts/bench-http.sh           # full run (~20 min): updates Docs/Benchmarks/ and the table in Docs/Benchmarks.md
#   bash scripts/bench-http.sh --quick   # a few seconds per configuration; writes .build-bench/quick/
#   bash scripts/bench-http.sh --counter # only the counter benchmark (get+set vs modify vs
#                                        # increment, ~6 min): writes Docs/Benchmarks/counter.md
#
# Extra arguments go to bench_http.py (e.g. --only Vapor/vapor-memory,Vapor/sessionkit-memory).
# Never part of `swift test` or `.ci/run`: the release builds alone take many minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

quick=false
counter=false
for argument in "$@"; do
    [ "$argument" = "--quick" ] && quick=true
    [ "$argument" = "--counter" ] && counter=true
done

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        # A fresh machine has no package lists yet: update them first.
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
    else
        echo "wrk is missing: sudo apt-get install wrk" >&2
        exit 1
    fi
fi

echo "== building the benchmark servers (release)"
if $counter; then  # the counter benchmark runs only SessionKit on Hummingbird
    (cd Benchmarks && swift build -c release --scratch-path "$ROOT/.build-bench" --product BenchHummingbird)
else
    (cd Benchmarks && swift build -c release --scratch-path "$ROOT/.build-bench")
fi
BIN_DIR=$(cd Benchmarks && swift build -c release --scratch-path "$ROOT/.build-bench" --show-bin-path)

echo "== starting PostgreSQL and Redis"
bash scripts/services.sh install >&2
# A lone PostgreSQL, as in earlier runs: no synchronous standby in the measured commits.
export SESSIONKIT_PG_STANDBY="${SESSIONKIT_PG_STANDBY:-0}"
eval "$(bash scripts/services.sh start)"
trap 'bash scripts/services.sh stop >/dev/null 2>&1 || true' EXIT

if $counter; then
    if $quick; then
        python3 scripts/bench_counter.py --bin-dir "$BIN_DIR" --out "$ROOT/.build-bench/quick" --quick
    else
        python3 scripts/bench_counter.py --bin-dir "$BIN_DIR" --out "$ROOT/Docs/Benchmarks"
    fi
    exit 0
fi

if $quick; then
    OUT="$ROOT/.build-bench/quick"
    python3 scripts/bench_http.py --bin-dir "$BIN_DIR" --out "$OUT" "$@"
    SCALE=10000,100000
else
    OUT="$ROOT/Docs/Benchmarks"
    python3 scripts/bench_http.py --bin-dir "$BIN_DIR" --out "$OUT" --readme "$ROOT/Docs/Benchmarks.md" "$@"
    SCALE=10000,1000000
fi

echo "== microbenchmarks and the memory-store scale run (core 0)"
{
    echo "# MicroBenchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sr)"
    taskset -c 0 "$BIN_DIR/MicroBenchmarks" --scale "$SCALE"
} | tee "$OUT/micro.txt"
