#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install everything, start the lab hosts (a, b and
# the shared storage), then the product end to end on host a: prepare lab3, grade it (0/10),
# complete it with the reference solution, and print `grade lab3`'s table (10/10).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
.venv/bin/lab hosts up                 # prints the hosts: name, URI, state, KVM or TCG
eval "$(.venv/bin/lab hosts env)"      # LIBVIRT_DEFAULT_URI is host a from here on

echo; echo "== lab start lab3 (on $LIBVIRT_DEFAULT_URI)"
.venv/bin/lab start lab3
echo; echo "== before the student works: grade lab3 --format json | total"
.venv/bin/grade lab3 --format json | .venv/bin/python -c \
  'import json, sys; r = json.load(sys.stdin)["results"][0]; print("score", r["score"], "of", r["max_score"])'
echo; echo "== the reference solution (labs/lab3/solution.py, libvirt API)"
.venv/bin/python -m labs.lab3.solution "$LIBVIRT_DEFAULT_URI"
echo; echo "== grade lab3"
.venv/bin/grade lab3
