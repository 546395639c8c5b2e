"""A real lab host driven with plain virsh into what libvirt accepts and a naive grader chokes
on: a domain whose <metadata> nests 254 deep. Its snapshot XML (which wraps the domain) is then
deeper than libxml2's default limit of 256; the class is still graded, that student included."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from classhelp import make_class

pytestmark = pytest.mark.labhost
BIN = Path(sys.executable).parent


def virsh(uri: str, *args: str) -> str:
    return subprocess.run(["virsh", "-q", "-c", uri, *args], check=True, capture_output=True, text=True).stdout


def test_a_domain_with_254_deep_metadata_is_graded_in_a_class(labhosts, tmp_path):
    uri = labhosts.uri("a")
    subprocess.run([BIN / "lab", "start", "lab3", "--host", uri], check=True, capture_output=True)
    try:
        deep = "<a>" * 254 + "</a>" * 254
        virsh(uri, "metadata", "lab3-vm", "--uri", "https://example.org/deep", "--key", "d", "--set", deep, "--config")
        virsh(uri, "snapshot-create-as", "lab3-vm", "clean")
        snapshot = virsh(uri, "snapshot-dumpxml", "lab3-vm", "clean")
        with pytest.raises(etree.XMLSyntaxError, match="Excessive depth"):
            etree.fromstring(snapshot.encode())             # what libxml2 refuses by default
        roster = make_class(tmp_path, ["right"], extra={"deep": uri})
        done = subprocess.run([BIN / "grade", "lab3", "--roster", roster, "--format", "json",
                               "--out", tmp_path / "runs"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        by = {r["student"]: r for r in json.loads(done.stdout)["results"]}
        assert by["s0-right"]["score"] == 10
        assert by["deep"]["status"] == "graded" and by["deep"]["exercises"][0]["messages"] == ["clean-ok"]
        [rundir] = (tmp_path / "runs").iterdir()
        assert json.loads((rundir / "run.json").read_text())["state"] == "complete"
        assert (rundir / "evidence" / "deep.json").is_file() and (rundir / "report.html").is_file()
    finally:
        subprocess.run([BIN / "lab", "finish", "lab3", "--host", uri], capture_output=True)
