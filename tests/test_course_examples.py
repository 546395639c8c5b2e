"""The course's own examples are part of the test suite: `lab course test` runs every sh and python
block of course.md and course.es.md, the light hosts' half on light hosts and the blocks marked
for VM hosts (block storage: device-mapper, ZFS, spare disks) on the suite's VM hosts, and a block
that breaks fails the suite. Between the two kinds, every block runs."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.course import coursetest, coursetext

pytestmark = pytest.mark.labhost
BIN = Path(sys.executable).parent
SUMMARY = re.compile(r"(\d+) of (\d+) blocks ran on (light|VM) hosts, (\d+) skipped(?:, \d+ failed)?")
LINE = re.compile(r"course(\.es)?\.md §\d (sh|python) #\d+: (ran \(\d+\.\d s\)|skipped: .+)")


def _blocks() -> list[coursetest.CodeBlock]:
    return [b for path in coursetext.OUTPUTS.values()
            for s in coursetest.sections(path.read_text(), path.name) for b in s.blocks]


def test_the_rendered_course_splits_into_sections_with_their_labs_and_blocks():
    found = {s.title: s for s in coursetest.sections(coursetext.OUTPUTS["en"].read_text(), "course.md")}
    # one order: the sections follow the labs, migration (lab4) before block storage (lab5)
    assert [found[n].lab for n in "123456"] == ["lab1", "lab2", "lab2", "lab3", "lab4", "lab5"]
    assert found["6"].blocks and all(b.vm_host for b in found["6"].blocks)
    assert [b.kind for b in found["1"].blocks if b.vm_host] == ["sh", "python"]
    assert {b.kind for b in found["4"].blocks} == {"sh", "python"}
    assert any("blockcommit" in b.code for b in found["4"].blocks)   # the life of an external snapshot


def test_every_example_runs_on_one_kind_of_lab_host_or_the_other():
    """No block is left out on both kinds: nothing is marked @not-here, in either language."""
    blocks = _blocks()
    assert blocks and not [b for b in blocks if b.not_here]
    assert not [p.name for p in coursetext.SOURCES.glob("*.md") if re.search(r"^@not-here ", p.read_text(), re.M)]


def _run(env: dict, *args: str) -> tuple[subprocess.CompletedProcess, tuple[int, int, str, int], list[str]]:
    done = subprocess.run([BIN / "lab", "course", "test", *args], env=env, capture_output=True,
                          text=True, timeout=3600)
    lines = done.stdout.splitlines()
    final = SUMMARY.fullmatch(lines[-1]) if lines else None
    assert final, done.stdout[-2000:] + done.stderr[-2000:]
    ran, total, kind, skipped = final.groups()
    return done, (int(ran), int(total), kind, int(skipped)), lines[:-1]


@pytest.fixture(scope="module")
def course_test(labhosts):
    return _run(os.environ | labhosts.env)


def test_every_example_for_light_hosts_runs_there(course_test):
    done, (ran, total, kind, skipped), lines = course_test
    assert done.returncode == 0, done.stdout + done.stderr
    blocks = _blocks()
    vm_only = sum(bool(b.vm_host) for b in blocks)
    assert kind == "light" and total == len(blocks) and skipped == vm_only and ran == total - vm_only
    assert len(lines) == total and all(LINE.fullmatch(line) for line in lines), lines
    assert all("on VM hosts only (lab course test --vm)" in line for line in lines if "skipped" in line)
    assert sum(line.startswith("course.es.md") for line in lines) == total // 2


def test_the_block_storage_examples_run_on_vm_hosts(vmhosts):
    """The other half: with --vm the blocks that need a host with its own kernel run on VM host a
    (the course's §1 block pool and §6, block storage and storage-level snapshots)."""
    done, (ran, total, kind, skipped), lines = _run(os.environ | vmhosts.lab_env | vmhosts.env, "--vm")
    assert done.returncode == 0, done.stdout + done.stderr
    blocks = _blocks()
    vm_only = sum(bool(b.vm_host) for b in blocks)
    assert kind == "VM" and total == len(blocks) and ran == vm_only == 12 and skipped == total - vm_only
    ran_lines = [line for line in lines if ": ran (" in line]
    assert {re.match(r"course(?:\.es)?\.md §(\d)", line).group(1) for line in ran_lines} == {"1", "6"}


def test_a_broken_example_fails_with_its_reason(labhosts, tmp_path):
    course = tmp_path / "course.md"
    course.write_text("## 1. Broken\n\n```sh\nvirsh pool-info no-such-pool\n```\n\n"
                      "```python\nimport libvirt\nlibvirt.open().storagePoolLookupByName('no-such-pool')\n```\n\n"
                      "```python\nprint('after')\n```\n\n<!-- not run here: a classroom host -->\n```sh\nssh pc-a\n```\n")
    printed = []
    summary = coursetest.run(["en"], out=printed.append, base_env=os.environ | labhosts.env,
                             files={"en": course})
    assert summary.failed == 2 and summary.line() == "2 of 4 blocks ran on light hosts, 2 skipped, 2 failed"
    assert printed[0].startswith("course.md §1 sh #1: FAILED") and "no-such-pool" in printed[0]
    assert "libvirtError" in printed[2] and printed[3].endswith("skipped: after the failure above in this section")
    assert printed[1] == "course.md §1 sh #2: skipped: a classroom host"


def test_a_section_whose_blocks_all_need_another_host_starts_no_lab(labhosts, tmp_path):
    """lab5's examples need a VM host: on light hosts `lab start lab5` refuses, so the course
    test must not start it for blocks it skips anyway."""
    course = tmp_path / "course.md"
    course.write_text("## 6. Block storage\n\n<!-- VM hosts: it needs device-mapper -->\n```sh\n"
                      "virsh pool-build lab5-vg\n```\n\n**Practise it:** [lab5](notebooks/lab5/lab5.ipynb)\n")
    printed = []
    summary = coursetest.run(["en"], out=printed.append, base_env=os.environ | labhosts.env,
                             files={"en": course})
    assert printed == ["course.md §6 sh #1: skipped: on VM hosts only (lab course test --vm): it needs device-mapper",
                       "0 of 1 blocks ran on light hosts, 1 skipped"]
    assert summary.failed == 0
