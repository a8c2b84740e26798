#!/usr/bin/env bash
# Set up Bestiary on a fresh machine: a virtualenv in .venv with the project installed
# (editable) at the pinned versions of constraints.txt. Idempotent; safe to rerun.
#   PYTHON=/usr/bin/python3 bash scripts/setup.sh   # choose the interpreter
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  echo "setup: $PY is missing or older than Python 3.11; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || {
    echo "setup: '$PY -m venv' failed; on Debian/Ubuntu: apt-get install -y python3-venv" >&2
    exit 1
  }
fi
# setuptools and wheel first: tests build the project's wheel and the example plugin offline.
.venv/bin/python -m pip install --quiet --disable-pip-version-check "setuptools>=69" wheel
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[contrib,test]'
echo "setup: ready ($(.venv/bin/python --version), torch $(.venv/bin/python -c 'import torch; print(torch.__version__)'))"
