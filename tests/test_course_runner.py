"""How `lab course test` reads the rendered course and runs a reader's shell, without lab hosts:
which blocks run on which kind of host, the `@vm-host` directive, and the shell state (exported
variables, working directory) carried from block to block, locally and through a remote shell's
quoting (the way it reaches a VM host over ssh)."""
from __future__ import annotations

import pytest

from grader.course import coursetest, coursetext

COURSE = """## 1. Pools

```sh
virsh pool-list
```

<!-- VM hosts: it needs a spare disk -->
```sh
virsh pool-build spare
```

<!-- not run here: a classroom host -->
```python
print(1)
```

**Practise it:** [lab1](notebooks/lab1/lab1.ipynb)
"""


def test_sections_read_where_each_block_runs():
    [section] = coursetest.sections(COURSE, "course.md")
    light, vm, nowhere = section.blocks
    assert section.lab == "lab1"
    assert (light.vm_host, vm.vm_host, nowhere.not_here) == (None, "it needs a spare disk", "a classroom host")
    assert light.skip_reason("light") is None and vm.skip_reason("vm") is None
    assert vm.skip_reason("light") == "on VM hosts only (lab course test --vm): it needs a spare disk"
    assert light.skip_reason("vm") == "on light hosts (lab course test without --vm)"
    assert nowhere.skip_reason("light") == nowhere.skip_reason("vm") == "a classroom host"


def test_the_vm_host_directive_renders_in_each_language_and_keeps_its_note_in_a_column(tmp_path):
    (tmp_path / "10.md").write_text(
        ":::en\n## 1. A\n:::es\n## 1. A\n:::\n\n@side-by-side\n"
        "@vm-host it needs a spare disk ‖ necesita un disco de sobra\n```sh\nvirsh pool-build x\n```\n"
        "```python\nprint(1)\n```\n@end\n")
    english, spanish = coursetext.render("en", tmp_path), coursetext.render("es", tmp_path)
    assert "<!-- VM hosts: it needs a spare disk -->\n```sh" in english
    assert "<!-- VM hosts: necesita un disco de sobra -->\n```sh" in spanish
    [section] = coursetest.sections(english, "course.md")
    assert [b.vm_host for b in section.blocks] == ["it needs a spare disk", None]


def test_the_vm_host_directive_needs_both_languages(tmp_path):
    path = tmp_path / "10.md"
    path.write_text("@vm-host only in English\n```sh\nvirsh pool-list\n```\n")
    with pytest.raises(coursetext.CourseError, match="one language only"):
        coursetext.parse(path)


@pytest.fixture(params=["light", "vm"])
def shell(request, tmp_path):
    """A reader's shell on this machine: as on light hosts (bash run directly), or through a
    command that takes one string and hands it to a shell, as ssh does on a VM host."""
    hosts = (coursetest.Hosts("light", {"PATH": "/usr/bin:/bin"}) if request.param == "light"
             else coursetest.Hosts("vm", {"PATH": "/usr/bin:/bin"}, ssh=["sh", "-c"]))
    return coursetest.Shell(hosts, str(tmp_path))


def test_a_shell_block_sees_what_earlier_blocks_exported_and_where_they_went(shell, tmp_path):
    (tmp_path / "sub").mkdir()
    assert shell.run("A=$PATH\nexport B='it'\"'\"'s two words'\ncd sub\n") is None
    assert shell.exported == {"A": "/usr/bin:/bin", "B": "it's two words"}
    assert shell.cwd == str(tmp_path / "sub")
    assert shell.run('test "$B" = "it'"'"'s two words" && test "$(pwd)" = "$OLDPWD_CHECK"\n'
                     .replace("$OLDPWD_CHECK", str(tmp_path / "sub"))) is None
    shell.new_section()
    assert shell.cwd == str(tmp_path)


def test_a_failing_shell_block_reports_its_last_error_line(shell):
    assert shell.run("echo output\necho 'first problem' >&2\nfalse\necho never") == "first problem"
    assert shell.run("unset_variable_here=$NO_SUCH_VARIABLE").endswith("NO_SUCH_VARIABLE: unbound variable")
    assert shell.run("exit 3") == "exit status 3"


def test_the_summary_says_which_kind_of_host_ran_the_blocks():
    block = coursetest.CodeBlock("course.md", "1", "sh", "true\n")
    summary = coursetest.Summary("vm", [coursetest.Outcome(block, 1, "ran"),
                                        coursetest.Outcome(block, 2, "skipped", detail="x")])
    assert summary.line() == "1 of 2 blocks ran on VM hosts, 1 skipped"
