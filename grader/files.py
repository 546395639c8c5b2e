"""Where the course's own folders are: `templates/` and `notebooks/`.

In a checkout they are at the repository's top level, where people edit them. A wheel ships them
inside the package, under grader/shipped/ (pyproject.toml maps them there), so an installed copy
renders reports and writes notebooks without a checkout.
"""
from __future__ import annotations

from pathlib import Path

from grader import ROOT

SHIPPED = Path(__file__).resolve().parent / "shipped"


def folder(name: str) -> Path:
    """`templates` or `notebooks`: the shipped copy when installed, else the checkout's."""
    shipped = SHIPPED / name
    return shipped if shipped.is_dir() else ROOT / name
