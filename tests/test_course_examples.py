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
    assert [found[n].lab for n in "12345"] == ["lab1", "lab2", "lab2", "lab3", "lab4"]
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
