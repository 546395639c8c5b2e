"""The course's own examples are part of the test suite: `lab course test` runs every sh and python
block of course.md and course.es.md on the lab hosts, and a block that breaks fails the suite."""
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


def test_the_rendered_course_splits_into_sections_with_their_labs_and_blocks():
    found = {s.title: s for s in coursetest.sections(coursetext.OUTPUTS["en"].read_text(), "course.md")}
    assert [found[n].lab for n in "123456"] == ["lab1", "lab2", "lab2", "lab3", "lab5", "lab4"]
    assert all(b.not_here.startswith("it needs a VM host") for b in found["5"].blocks)
    assert {b.kind for b in found["4"].blocks} == {"sh", "python"}
    skipped = [b for s in found.values() for b in s.blocks if b.not_here]
    assert skipped and all(b.not_here for b in skipped)
    assert any("classroom host (10.0.0.12)" in b.not_here for b in skipped)


@pytest.fixture(scope="module")
def course_test(labhosts):
    done = subprocess.run([BIN / "lab", "course", "test"], env=os.environ | labhosts.env,
                          capture_output=True, text=True, timeout=900)
    return done


def test_every_example_of_both_languages_runs_on_the_lab_hosts(course_test):
    lines = course_test.stdout.splitlines()
    assert course_test.returncode == 0, course_test.stdout + course_test.stderr
    final = re.fullmatch(r"(\d+) of (\d+) blocks ran, (\d+) skipped", lines[-1])
    assert final, lines[-1]
    ran, total, skipped = map(int, final.groups())
    markers = sum(len(re.findall(r"^@not-here ", p.read_text(), re.M)) for p in coursetext.SOURCES.glob("*.md"))
    assert skipped == 2 * markers and ran + skipped == total and ran >= 2 * 20
    blocks = lines[:-1]
    assert len(blocks) == total
    assert all(re.fullmatch(r"course(\.es)?\.md §\d (sh|python) #\d+: (ran \(\d+\.\d s\)|skipped: .+)", l)
               for l in blocks), blocks
    assert sum(l.startswith("course.es.md") for l in blocks) == total // 2


def test_a_broken_example_fails_with_its_reason(labhosts, tmp_path):
    course = tmp_path / "course.md"
    course.write_text("## 1. Broken\n\n```sh\nvirsh pool-info no-such-pool\n```\n\n"
                      "```python\nimport libvirt\nlibvirt.open().storagePoolLookupByName('no-such-pool')\n```\n\n"
                      "```python\nprint('after')\n```\n\n<!-- not run here: a classroom host -->\n```sh\nssh pc-a\n```\n")
    printed = []
    summary = coursetest.run(["en"], out=printed.append, base_env=os.environ | labhosts.env,
                             files={"en": course})
    assert summary.failed == 2 and summary.line() == "2 of 4 blocks ran, 2 skipped, 2 failed"
    assert printed[0].startswith("course.md §1 sh #1: FAILED") and "no-such-pool" in printed[0]
    assert "libvirtError" in printed[2] and printed[3].endswith("skipped: after the failure above in this section")
    assert printed[1] == "course.md §1 sh #2: skipped: a classroom host"


def test_a_section_whose_blocks_all_need_another_host_starts_no_lab(labhosts, tmp_path):
    """lab5's examples need a VM host: on light hosts `lab start lab5` refuses, so the course
    test must not start it for blocks it skips anyway."""
    course = tmp_path / "course.md"
    course.write_text("## 5. Block storage\n\n<!-- not run here: it needs a VM host -->\n```sh\n"
                      "virsh pool-build lab5-vg\n```\n\n**Practise it:** [lab5](notebooks/lab5/lab5.ipynb)\n")
    printed = []
    summary = coursetest.run(["en"], out=printed.append, base_env=os.environ | labhosts.env,
                             files={"en": course})
    assert printed == ["course.md §5 sh #1: skipped: it needs a VM host", "0 of 1 blocks ran, 1 skipped"]
    assert summary.failed == 0
