#!/usr/bin/env bash
# Style, types and the locks, before the tests (.ci/run and the README's test command run it):
#   ruff (rules in pyproject.toml), ruff's formatter in check mode, mypy (strict on every Python file: pipeline/,
#   models/, serve/, docgraph/, tests/, bench/, scripts/ and deploy/; [tool.mypy] in pyproject.toml), and the locks
#   against their inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m ruff check .
python3 -m ruff format --check .
python3 -m mypy
python3 scripts/lockcheck.py check
