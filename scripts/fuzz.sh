#!/usr/bin/env bash
# Builds SessionKit's libFuzzer targets (fuzzer + address sanitizer on the Swift code; only the
# modules they exercise, never the web frameworks) and runs each for a bounded time. Any crash
# fails the script and leaves the crashing input in Fuzz/crashes/ (turn it into a regression
# test).
#   scripts/fuzz.sh [seconds-per-target]   (default 30; .ci/run uses a short smoke run)
#   scripts/fuzz.sh 300                    # the long run: reports exec/s and coverage per target
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"
seconds="${1:-30}"
flags=(--scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing)
swift build "${flags[@]}"
bin="$(swift build "${flags[@]}" --show-bin-path)"
mkdir -p crashes
status=0
for target in FuzzCookieHeader FuzzToken FuzzSealedCookie FuzzRESPParser; do
    corpus="$(mktemp -d)"
    [ -d "Corpus/$target" ] && cp -r "Corpus/$target/." "$corpus/"
    echo "== $target for ${seconds}s"
    if ! "$bin/$target" "$corpus" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="crashes/$target-" \
        >"/tmp/fuzz-$target.log" 2>&1; then
        echo "!! $target crashed; input saved in Fuzz/crashes/"
        tail -40 "/tmp/fuzz-$target.log"
        status=1
    fi
    # libFuzzer's last status line has the coverage (cov: edges, ft: features, corp: inputs)
    # and exec/s; the final stats have the totals.
    grep -aE "^#[0-9]+[[:space:]]+DONE" "/tmp/fuzz-$target.log" | tail -1 | sed "s/^/   $target /" || true
    grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb" "/tmp/fuzz-$target.log" | sed "s/^/   $target /" || true
    rm -rf "$corpus"
done
exit $status
