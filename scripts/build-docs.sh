#!/usr/bin/env bash
# Builds the DocC documentation of every public module with swift-docc-plugin 1.5.0, warnings
# treated as errors (an unresolved symbol or article link, a bad heading anchor, a misspelt
# parameter all fail it). `.ci/run` runs it.
#
#   bash scripts/build-docs.sh [OUTPUT_DIR]   # one MODULE.doccarchive per module, default .build/docs
#
# The plugin is a dependency only when SESSIONKIT_DOCC is set (see Package.swift), so apps that
# depend on SessionKit never resolve it. To read the docs locally:
#   SESSIONKIT_DOCC=1 swift package --disable-sandbox preview-documentation --target SessionKit
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.build/docs}"
export SESSIONKIT_DOCC=1
modules=(SessionKit SessionKitHummingbird SessionKitHummingbirdAuth SessionKitVapor SessionKitSQLite SessionKitPostgres SessionKitRedis
    SessionKitRESP SessionKitTesting)
# Every library product of the manifest has its module here, and every module its catalog.
products="$(swift package dump-package | python3 -c '
import json, sys
print(" ".join(sorted(p["name"] for p in json.load(sys.stdin)["products"] if "library" in p["type"])))')"
if [ "$products" != "$(printf '%s\n' "${modules[@]}" | sort | tr '\n' ' ' | sed 's/ $//')" ]; then
    echo "the library products ($products) are not the documented modules (${modules[*]})" >&2
    exit 1
fi
mkdir -p "$out"
for module in "${modules[@]}"; do
    [ -f "Sources/$module/$module.docc/$module.md" ] || { echo "no DocC catalog with a landing page for $module" >&2; exit 1; }
    log="$(mktemp)"
    if ! swift package --disable-sandbox --allow-writing-to-directory "$out" generate-documentation \
        --target "$module" --warnings-as-errors --output-path "$out/$module.doccarchive" >"$log" 2>&1; then
        grep -E "warning|error" "$log" | head -60 >&2
        echo "FAIL: the documentation of $module has warnings or errors (log: $log)" >&2
        exit 1
    fi
    rm -f "$log"
    echo "documentation of $module: built, no warnings ($out/$module.doccarchive)"
done
