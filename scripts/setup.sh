#!/usr/bin/env bash
# Bring a checkout to a runnable state; quick when nothing has changed.
#
#   scripts/setup.sh        runtime: .venv, requirements, weights, ONNX build, database
#   scripts/setup.sh --dev  the same, plus tests, linters and benchmarks (requirements-dev.txt)
#
# Each step is skipped or cheap when its work is already done: the virtual environment is
# created once, pip runs only when the requirements files change (a stamp in .venv holds
# their hash), weights and ONNX builds are cached and verified in $SAMLABEL_CACHE_DIR
# (~/.cache/samlabel), and migrate applies only new migrations.
set -euo pipefail

usage() {
    echo "usage: scripts/setup.sh [--dev]" >&2
    exit 2
}

dev=0
case "${1:-}" in
    "") ;;
    --dev) dev=1 ;;
    *) usage ;;
esac
[[ $# -le 1 ]] || usage

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3.11}"
venv_python=.venv/bin/python

step() { printf '==> %s\n' "$*"; }

if [[ ! -x $venv_python ]]; then
    if ! command -v "$PYTHON" >/dev/null; then
        echo "setup: $PYTHON not found; install Python 3.11 or set PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    step "creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
fi

# requirements-dev.txt includes requirements.txt, so one pip run installs either set.
hash_files() {
    cat "$@" | "$venv_python" -c \
        'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
}
runtime_stamp=.venv/.samlabel-requirements
dev_stamp=.venv/.samlabel-requirements-dev
if [[ $dev == 1 ]]; then
    install_from=requirements-dev.txt
    stamp=$dev_stamp
    wanted=$(hash_files requirements.txt requirements-dev.txt)
else
    install_from=requirements.txt
    stamp=$runtime_stamp
    wanted=$(hash_files requirements.txt)
fi
# The stamp holds the hash of the files' contents, so editing a pin reinstalls and
# nothing else does.
if [[ -f $stamp && $(<"$stamp") == "$wanted" ]]; then
    step "requirements up to date ($install_from)"
else
    step "installing $install_from"
    "$venv_python" -m pip install --quiet --disable-pip-version-check -r "$install_from"
    echo "$wanted" >"$stamp"
    if [[ $dev == 1 ]]; then
        # The development set includes the runtime set, which is therefore up to date too.
        hash_files requirements.txt >"$runtime_stamp"
    fi
fi

mkdir -p var

# An unset or empty SAMLABEL_MODEL means the default model, as in the settings.
step "fetching and verifying weights"
"$venv_python" -m inference.fetch ${SAMLABEL_MODEL:+"$SAMLABEL_MODEL"}

step "building the browser decoder as ONNX"
"$venv_python" -m export_onnx ${SAMLABEL_MODEL:+--model "$SAMLABEL_MODEL"}

# The annotator's front end: TypeScript bundled into webapp/annotator/static/ with
# onnxruntime-web's wasm files beside it. npm runs only when the lock file changes.
if ! command -v npm >/dev/null; then
    echo "setup: npm not found; install Node.js 20 or newer (it builds the annotator)" >&2
    exit 1
fi
front_stamp=frontend/node_modules/.samlabel-lock
front_wanted=$(hash_files frontend/package-lock.json)
if [[ -f $front_stamp && $(<"$front_stamp") == "$front_wanted" ]]; then
    step "front-end packages up to date"
else
    step "installing front-end packages (npm ci)"
    (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
    echo "$front_wanted" >"$front_stamp"
fi
step "building the annotator"
(cd frontend && npm run --silent build)

# Browser tests drive Debian's Chromium; install it where we may (root with apt-get).
if [[ $dev == 1 && ! -x /usr/bin/chromium ]]; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        step "installing Chromium for the browser tests"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        step "Chromium not found at /usr/bin/chromium: the browser tests will be skipped"
    fi
fi

step "migrating the database"
"$venv_python" manage.py migrate --noinput
