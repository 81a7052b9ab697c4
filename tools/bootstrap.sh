#!/usr/bin/env bash
# Unattended, idempotent bootstrap of Keel's toolchain. Run from anywhere; works in the repo root.
#
#   .venv/          python3 venv: requirements.txt (held by constraints.txt) + `pip install -e .`
#                   + pure-Python brownie
#   node_modules/   `npm ci` from package-lock.json (anvil, which brownie launches from PATH)
#
# Each half is skipped when a stamp (sha256 of its inputs) matches, so a warm run is well under
# a second. Delete .venv or node_modules (or touch an input) to force a step. Output of each
# command goes to a log that is printed only when the command fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
PY_STAMP=$VENV/.keel-bootstrap.sha256
NODE_STAMP=node_modules/.keel-bootstrap.sha256

say() { printf 'bootstrap: %s\n' "$*"; }

# run DESCRIPTION CMD...: one progress line; the command's output only if it fails.
run() {
    local desc=$1 log rc=0
    shift
    say "$desc"
    log=$(mktemp)
    "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$log" >&2
        rm -f "$log"
        printf 'bootstrap: FAILED (exit %s): %s\n' "$rc" "$*" >&2
        exit "$rc"
    fi
    rm -f "$log"
}

# sha256 over the named files' contents (plus any extra words), one line.
digest() {
    { sha256sum "$@"; } | sha256sum | cut -d' ' -f1
}

command -v "$PYTHON" >/dev/null || { echo "bootstrap: $PYTHON not found" >&2; exit 1; }
command -v npm >/dev/null || { echo "bootstrap: npm not found" >&2; exit 1; }

# --- Python -------------------------------------------------------------------------------
py_version=$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
py_key=$( { digest requirements.txt constraints.txt pyproject.toml tools/purify_brownie.py tools/bootstrap.sh; echo "$py_version"; } | sha256sum | cut -d' ' -f1)

# A venv whose interpreter is gone (e.g. python upgraded underneath it) is rebuilt.
if [ -d "$VENV" ] && ! "$VENV/bin/python" -c 'pass' >/dev/null 2>&1; then
    say "removing broken $VENV"
    rm -rf "$VENV"
fi

# brownie is pure once no compiled module remains beside its sources.
brownie_compiled() {
    compgen -G "$VENV/lib/python*/site-packages/brownie/project/compiler/vyper*.so" >/dev/null
}

if [ -f "$PY_STAMP" ] && [ "$(cat "$PY_STAMP")" = "$py_key" ] && ! brownie_compiled; then
    say "python env up to date ($VENV)"
else
    rm -f "$PY_STAMP"
    if [ ! -x "$VENV/bin/python" ]; then
        run "creating $VENV with $PYTHON $py_version" "$PYTHON" -m venv "$VENV"
    fi
    run "pip install -r requirements.txt" "$VENV/bin/python" -m pip install -q -r requirements.txt -c constraints.txt
    run "pip install -e . (keel)" "$VENV/bin/python" -m pip install -q -e . -c constraints.txt
    run "purifying brownie (tools/purify_brownie.py)" "$VENV/bin/python" tools/purify_brownie.py
    printf '%s\n' "$py_key" >"$PY_STAMP"
fi

# --- Node (anvil) -----------------------------------------------------------------------------
node_key=$(digest package.json package-lock.json)
if [ -f "$NODE_STAMP" ] && [ "$(cat "$NODE_STAMP")" = "$node_key" ] && [ -x node_modules/.bin/anvil ]; then
    say "node_modules up to date (anvil)"
else
    run "npm ci (anvil)" npm ci --no-audit --no-fund --loglevel=error
    printf '%s\n' "$node_key" >"$NODE_STAMP"
fi

# --- Chromium (the risk report's rendering check) ------------------------------------------------
# Debian's chromium package: the report test renders report.html headless and looks at the
# screenshot. Installed as root with apt-get when missing; elsewhere set KEEL_CHROMIUM.
if [ -z "${KEEL_CHROMIUM:-}" ] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        say "apt-get install chromium"
        if ! apt-get install -y -q chromium >/dev/null 2>&1; then
            run "apt-get update" apt-get update -q
            run "apt-get install chromium" apt-get install -y -q chromium
        fi
    else
        say "chromium not found and cannot apt-get it: install it or set KEEL_CHROMIUM (the report test needs it)"
    fi
else
    say "chromium present"
fi

# --- sanity ---------------------------------------------------------------------------------
[ -x "$VENV/bin/brownie" ] || { echo "bootstrap: $VENV/bin/brownie missing" >&2; exit 1; }
[ -x node_modules/.bin/anvil ] || { echo "bootstrap: node_modules/.bin/anvil missing" >&2; exit 1; }
say "ok"
