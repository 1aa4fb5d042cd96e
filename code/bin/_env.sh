# Sourced by code/bin/build, code/bin/test and code/bin/execute: create .venv (Python 3.11) on
# first use, reinstall whenever requirements.txt, requirements-nodeps.txt or pyproject.toml
# change, and export the pinned CPU numerics (llmnotes.numerics) where they apply.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3.11}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "error: $PYTHON not found; install Python 3.11 or set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
VENV="$ROOT/.venv"
STAMP="$VENV/.requirements-hash"
HASH="$(cat requirements.txt requirements-nodeps.txt pyproject.toml code/llmnotes/kernel.py | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$HASH" ]; then
    echo "installing requirements into $VENV (first run takes a few minutes)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r requirements.txt
    "$VENV/bin/python" -m pip install --quiet --no-deps -r requirements-nodeps.txt
    "$VENV/bin/python" -m llmnotes kernel >/dev/null   # JupyterLab's python3 kernel pins the numerics too
    echo "$HASH" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
export PYTHONHASHSEED=0
export LLMNOTES_PROGRESS=0      # stored outputs and tests hold results, not progress bars and timings
eval "$(python -m llmnotes numerics --shell)"
