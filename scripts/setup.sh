#!/usr/bin/env bash
# Set up Bestiary on a fresh machine: system packages (as root, where apt-get exists), a
# virtualenv in .venv, and the project installed editable at the pinned versions of
# constraints.txt. Idempotent; safe to rerun.
#   PYTHON=/path/to/python3.11 bash scripts/setup.sh   # choose the interpreter
#
# The sandbox runs organisms as an unprivileged uid, which must be able to read the
# Python runtime. Debian's /usr/bin/python3 is readable by every uid, so it is preferred;
# an interpreter under a private home (e.g. pyenv in /root, mode 0700) is not, and
# `bestiary sandbox check` says so.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # bubblewrap: the default sandbox backend; libseccomp2: its syscall filter; runsc: gVisor, the
  # second backend; python3-venv: venvs of /usr/bin/python3; chromium: the report's rendering test.
  need=()
  for pkg in bubblewrap libseccomp2 runsc python3-venv chromium; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
elif ! command -v bwrap >/dev/null; then
  echo "setup: bubblewrap is not installed; the sandbox needs it (Debian/Ubuntu: sudo apt-get install bubblewrap)" >&2
fi
if ! command -v runsc >/dev/null; then
  echo "setup: gVisor's runsc is not installed; the gvisor backend needs it (Debian/Ubuntu: apt-get install runsc)" >&2
fi

if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  if /usr/bin/python3 -c 'import sys, venv; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    PYTHON=/usr/bin/python3
  fi
fi
if ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  echo "setup: $PYTHON is missing or older than Python 3.11; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv || {
    echo "setup: '$PYTHON -m venv' failed; on Debian/Ubuntu: apt-get install -y python3-venv" >&2
    exit 1
  }
fi
# setuptools and wheel first: tests build the project's wheel and the example plugin offline.
.venv/bin/python -m pip install --quiet --disable-pip-version-check "setuptools>=69" wheel
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[contrib,test,ray,tensorboard]'
echo "setup: ready ($(.venv/bin/python --version), torch $(.venv/bin/python -c 'import torch; print(torch.__version__)'))"
