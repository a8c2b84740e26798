#!/usr/bin/env bash
# Type-check the whole `bestiary` namespace with mypy. The folders install under one namespace
# (setuptools package-dir), which mypy cannot follow through the editable finder, so this
# builds the namespace as a tree of links in a temporary directory and checks that.
#   bash scripts/typecheck.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/bestiary"
for f in bestiary/*; do ln -s "$PWD/$f" "$tree/bestiary/"; done
for sub in envs organisms sandbox analysis; do ln -s "$PWD/$sub" "$tree/bestiary/$sub"; done
cd "$tree" && "$OLDPWD/.venv/bin/mypy" --config-file "$OLDPWD/pyproject.toml" --cache-dir "$OLDPWD/.mypy_cache" -p bestiary
