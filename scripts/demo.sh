#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install everything, start the lab hosts (a, b and
# the shared storage), and show them.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
.venv/bin/lab hosts up
echo
.venv/bin/lab hosts list
