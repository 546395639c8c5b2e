"""KVM/libvirt storage course: lab hosts, lab set-up and the read-only grader.

The pipeline, one module per step: collect (read-only libvirt) -> evidence (plain data,
JSON) -> checks (pure functions per exercise) -> scoring -> renderers.
"""
from pathlib import Path

#: Repository root (the package is installed editable): labs/, templates/, notebooks/ live here.
ROOT = Path(__file__).resolve().parent.parent
