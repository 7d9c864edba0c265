#!/usr/bin/env bash
# Builds SessionKit's libFuzzer targets (fuzzer + address sanitizer, core modules only) and runs
# each for a bounded time. Any crash fails the script and leaves the crashing input in
# Fuzz/crashes/ (turn it into a regression test).
#   scripts/fuzz.sh [seconds-per-target]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"
seconds="${1:-30}"
scratch=../.build-fuzz
swift build --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing
bin="$(swift build --scratch-path "$scratch" --show-bin-path -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing)"
mkdir -p crashes
status=0
for target in FuzzCookieHeader FuzzToken FuzzSealedCookie FuzzRESPParser; do
    [ -x "$bin/$target" ] || continue
    corpus="$(mktemp -d)"
    [ -d "Corpus/$target" ] && cp -r "Corpus/$target/." "$corpus/"
    echo "== $target for ${seconds}s"
    if ! "$bin/$target" "$corpus" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="crashes/$target-" \
        >"/tmp/fuzz-$target.log" 2>&1; then
        echo "!! $target crashed; input saved in Fuzz/crashes/"; tail -30 "/tmp/fuzz-$target.log"; status=1
    fi
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "/tmp/fuzz-$target.log" | sed "s/^/   $target /"
    rm -rf "$corpus"
done
exit $status
