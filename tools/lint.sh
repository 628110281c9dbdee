#!/usr/bin/env bash
# Apply ruff's automatic fixes and the formatter to the whole tree, then show what is left for a person.
# Run from anywhere; ruff reads its configuration from pyproject.toml.  CI does not run this script: it
# only checks (`ruff check` and `ruff format --check` in .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(src tests tools benchmarks examples)
ruff check --fix --quiet "${paths[@]}" || true   # the fixable findings; what remains is reported below
ruff format "${paths[@]}"
ruff check "${paths[@]}"
