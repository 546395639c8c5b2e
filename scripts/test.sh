#!/usr/bin/env bash
# The whole test suite against real lab hosts, after the same install step as the demo.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k labhosts`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
exec .venv/bin/pytest "$@"
