#!/usr/bin/env bash
# Compiles every Swift snippet of the documentation, so that no snippet contradicts the code.
#
#   bash scripts/check-doc-snippets.sh
#
# Each ```swift fence in README.md and in the DocC articles (Sources/*/*.docc/*.md) is a
# complete program (its own imports, top-level code). The script writes each one to
# Snippets/<Article>_<n>.swift, where SwiftPM builds it as a snippet: an executable that can
# use every module of this package and of its dependencies. One `swift build` compiles and
# links them all against the already-built modules; the folder is removed afterwards. A fence
# that fails to compile fails the check with the article and the fence's line. A fence that is a
# package manifest (it starts with `// swift-tools-version`) is loaded by
# `swift package dump-package` instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -e Snippets ]; then
    echo "Snippets/ exists; this check creates and removes it itself" >&2
    exit 1
fi
manifests="$(mktemp -d)"
trap 'rm -rf Snippets "$manifests"' EXIT
export SNIPPET_MANIFESTS="$manifests"
python3 - <<'PYTHON'
import glob, os, re
sources = ["README.md"] + sorted(glob.glob("Sources/*/*.docc/*.md"))
os.makedirs("Snippets")
count = 0
for path in sources:
    lines = open(path, encoding="utf-8").read().split("\n")
    article = re.sub(r"\W", "", os.path.splitext(os.path.basename(path))[0])
    if path.startswith("Sources/"):
        article = path.split("/")[1] + "_" + article
    number, fence_line, body = 0, None, None
    for index, line in enumerate(lines, start=1):
        stripped = line.strip()
        if body is None and re.fullmatch(r"```swift\b.*", stripped):
            fence_line, body = index, []
        elif body is not None and stripped == "```":
            number += 1
            name = f"{article}_{number}"
            if body and body[0].startswith("// swift-tools-version"):
                # A package manifest: checked by `swift package dump-package` instead.
                os.makedirs(f"{os.environ['SNIPPET_MANIFESTS']}/{name}")
                with open(f"{os.environ['SNIPPET_MANIFESTS']}/{name}/Package.swift", "w", encoding="utf-8") as out:
                    out.write("\n".join(body) + f"\n// {path}:{fence_line}\n")
            else:
                with open(f"Snippets/{name}.swift", "w", encoding="utf-8") as out:
                    out.write(f"// {path}:{fence_line}\n" + "\n".join(body) + "\n")
            count += 1
            body = None
        elif body is not None:
            body.append(line)
print(f"{count} Swift snippets from {len(sources)} documents")
PYTHON
for manifest in "$manifests"/*/; do
    [ -d "$manifest" ] || continue
    if ! (cd "$manifest" && swift package dump-package >/dev/null 2>error.log); then
        echo "FAIL: the manifest snippet $(tail -1 "$manifest/Package.swift") does not load:" >&2
        cat "$manifest/error.log" >&2
        exit 1
    fi
    echo "manifest snippet $(tail -1 "$manifest/Package.swift" | sed 's#^// ##') loads"
done
log="$(mktemp)"
if ! swift build >"$log" 2>&1; then
    echo "FAIL: a documentation snippet does not compile (each Snippets/ file's first line names its fence)" >&2
    grep -A8 "error:" "$log" | head -100 >&2
    exit 1
fi
bin="$(swift build --show-bin-path)"
missing=0
for snippet in Snippets/*.swift; do
    name="$(basename "$snippet" .swift)"
    [ -x "$bin/$name" ] || { echo "FAIL: $name ($(head -1 "$snippet")) was not built" >&2; missing=1; }
done
[ "$missing" = 0 ] || exit 1
echo "documentation snippets: all $(ls Snippets | wc -l) compile and link"
