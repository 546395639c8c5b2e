"""Rosters (CSV and Ansible INI/YAML inventories) and course.toml: what an instructor writes, what
the grader understands, and every mistake reported at once with its line, exit 2, nothing graded."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.classroom import courseconf, roster
from grader.cli.main import grade
from grader.errors import UsageError


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_csv_roster_with_roles_email_and_name(tmp_path):
    path = write(tmp_path, "class.csv", """
        student,A,B,email,name
        ana,qemu+ssh://root@10.0.0.11/system,qemu+ssh://root@10.0.0.12/system,ana@uni.es,Ana Ruiz
        ben,qemu+tcp://127.0.0.1:16600/system,,,
        """)
    result = roster.load(path, ("A",))
    assert result.students() == ["ana", "ben"]
    ana, ben = result.entries
    assert ana.hosts == {"A": "qemu+ssh://root@10.0.0.11/system"}  # B is not a role of this lab
    assert (ana.identifier, ana.name, ben.identifier) == ("ana@uni.es", "Ana Ruiz", "ben")


def test_csv_problems_are_all_reported_with_line_numbers(tmp_path):
    path = write(tmp_path, "class.csv", """
        student,A,email
        ana,qemu:///system,ana@uni.es
        ana,qemu:///system,ana2@uni.es
        carl,not a uri,carl@uni.es
        dora,,dora@uni.es
        """)
    with pytest.raises(UsageError) as err:
        roster.load(path, ("A",))
    text = str(err.value)
    assert "line 3: duplicate student 'ana' (role A already given on line 2)" in text
    assert "line 4: student 'carl', role A: malformed libvirt URI 'not a uri'" in text
    assert "line 5: student 'dora' has no host for role A" in text
    assert "3 problem(s)" in text


def test_csv_missing_role_column_and_unknown_column(tmp_path):
    path = write(tmp_path, "class.csv", """
        student,B,notes
        ana,qemu:///system,x
        """)
    with pytest.raises(UsageError) as err:
        roster.load(path, ("A",))
    assert "line 1: unknown column 'notes'" in str(err.value)
    assert "line 1: missing column 'A'" in str(err.value)


INI = """
    # lab machines of room 2
    [room2]
    pc01 ansible_host=10.0.0.11 student=ana role=A
    pc02 ansible_host=10.0.0.12 student=ana role=B ansible_user=grader ansible_port=2222
    pc03 student=ben role=A libvirt_uri=qemu+tcp://10.0.0.13/system
    nfs01 ansible_host=10.0.0.2

    [room2:vars]
    ansible_user=root
    student_email=unset@uni.es

    [course:children]
    room2
    """


def test_ini_inventory_for_a_one_host_lab(tmp_path):
    result = roster.load(write(tmp_path, "hosts", INI), ("A",))
    by = {e.student: e for e in result.entries}
    assert set(by) == {"ana", "ben"}  # nfs01 has no student: not a student's host
    assert by["ana"].hosts == {"A": "qemu+ssh://root@10.0.0.11/system"}
    assert by["ben"].hosts == {"A": "qemu+tcp://10.0.0.13/system"}  # libvirt_uri wins


def test_ini_inventory_two_roles_and_its_problems(tmp_path):
    with pytest.raises(UsageError) as err:
        roster.load(write(tmp_path, "hosts", INI), ("A", "B"))
    assert "line 5: student 'ben' has no host for role B" in str(err.value)
    text = INI.replace("role=B ansible_user", "role=C ansible_user").replace(
        "    nfs01", "    pc09 student=eva\n    nfs01")
    with pytest.raises(UsageError) as err:
        roster.load(write(tmp_path, "hosts2", text), ("A",))
    assert "line 4: student 'ana': unknown role 'C'" in str(err.value)
    assert "host pc09 of student eva has no role= variable" in str(err.value)


def test_ini_second_role_uri_uses_ansible_user_and_port(tmp_path):
    text = INI.replace("pc03 student=ben role=A", "pc03 student=ben role=B") \
              .replace("nfs01", "pc04 student=ben role=A\n    nfs01")
    result = roster.load(write(tmp_path, "hosts", text), ("A", "B"))
    ana = result.entries[0]
    assert ana.hosts["B"] == "qemu+ssh://grader@10.0.0.12:2222/system"


def test_yaml_inventory(tmp_path):
    path = write(tmp_path, "inventory.yml", """
        all:
          vars:
            ansible_user: root
          children:
            lab:
              vars:
                role: A
              hosts:
                pc01: {ansible_host: 10.0.0.11, student: ana, student_email: ana@uni.es}
                pc02:
                  student: ben
                  libvirt_uri: "qemu+ssh://grader@10.0.0.12/system?socket=/var/run/libvirt/libvirt-sock-ro"
                storage:
                  ansible_host: 10.0.0.2
        """)
    result = roster.load(path, ("A",))
    by = {e.student: e for e in result.entries}
    assert by["ana"].hosts == {"A": "qemu+ssh://root@10.0.0.11/system"}
    assert by["ana"].email == "ana@uni.es"
    assert by["ben"].hosts["A"].endswith("socket=/var/run/libvirt/libvirt-sock-ro")


def test_yaml_problems_carry_lines(tmp_path):
    path = write(tmp_path, "inventory.yaml", """
        all:
          hosts:
            pc01: {student: ana, role: A, libvirt_uri: "nonsense"}
            pc02: {student: ana, role: A, ansible_host: 10.0.0.12}
        """)
    with pytest.raises(UsageError) as err:
        roster.load(path, ("A",))
    assert "line 3: student 'ana', role A: malformed libvirt URI 'nonsense'" in str(err.value)
    assert "line 4: duplicate student 'ana' (role A already given on line 3)" in str(err.value)


def test_inventory_variables_are_data_not_programs(tmp_path):
    """What students type ends up in an inventory: a libvirt_uri that runs a program, an
    ansible_host that smuggles a query or an ssh option, each a problem on its own line; an
    instructor may allow one more parameter by name."""
    path = write(tmp_path, "hosts", """
        pc01 student=ana role=A libvirt_uri=qemu+ext:///system?command=/tmp/x
        pc02 student=ben role=A ansible_host=h/system?command=/tmp/x
        pc03 student=carl role=A ansible_host=-oProxyCommand=x
        pc04 student=dora role=A ansible_user=grader libvirt_uri=qemu+ssh://h/system?mode=direct
        """)
    with pytest.raises(UsageError) as err:
        roster.load(path, ("A",))
    text = str(err.value)
    assert "line 1: student 'ana', role A: libvirt URI 'qemu+ext:///system?command=/tmp/x': the ext " \
           "transport runs a program on this machine" in text
    assert "line 2: student 'ben', role A: libvirt URI 'qemu+ssh://h/system?command=/tmp/x/system': " \
           "command= runs a program on this machine" in text
    assert "line 3: student 'carl', role A: malformed libvirt URI 'qemu+ssh://-oProxyCommand=x/system'" in text
    assert "line 4: student 'dora', role A: libvirt URI 'qemu+ssh://h/system?mode=direct': mode= is not " \
           "a parameter the grader needs" in text and "--allow-uri-param mode" in text
    assert "4 problem(s)" in text
    path.write_text("pc04 student=dora role=A libvirt_uri=qemu+ssh://h/system?mode=direct\n")
    assert roster.load(path, ("A",), allow=frozenset({"mode"})).entries[0].hosts == {
        "A": "qemu+ssh://h/system?mode=direct"}


def test_bad_roster_on_the_command_line_is_exit_2_and_grades_nobody(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "class.csv", "student,A\nana,bad\nana,qemu:///system\n")
    result = CliRunner().invoke(grade, ["lab3", "--roster", str(path)], catch_exceptions=False)
    assert result.exit_code == 2
    assert "line 2: student 'ana', role A: malformed libvirt URI 'bad'" in result.stderr
    assert "line 3: duplicate student 'ana'" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_class_options_without_a_roster_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(grade, ["lab3", "--only", "ana"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "--only grades a class: add --roster FILE" in result.stderr


def test_course_toml_is_found_upward_and_resolves_paths(tmp_path):
    (tmp_path / "course.toml").write_text('roster = "class.csv"\nruns = "archive"\njobs = 8\n'
                                          'timeout = 7.5\nlang = "es"\ngradebook = "gb.db"\n')
    deep = tmp_path / "week3" / "notes"
    deep.mkdir(parents=True)
    course = courseconf.current(deep)
    assert course.roster == tmp_path / "class.csv"
    assert course.runs == tmp_path / "archive"
    assert (course.jobs, course.timeout, course.lang) == (8, 7.5, "es")
    assert course.gradebook == str(tmp_path / "gb.db")


def test_course_toml_mistakes(tmp_path):
    (tmp_path / "course.toml").write_text('rooster = "class.csv"\n')
    with pytest.raises(UsageError, match="unknown key 'rooster'"):
        courseconf.current(tmp_path)
    (tmp_path / "course.toml").write_text('jobs = "many"\n')
    with pytest.raises(UsageError, match="jobs = 'many' has the wrong type"):
        courseconf.current(tmp_path)


NOBODY = 65534


def test_course_toml_someone_else_could_have_written_is_refused(tmp_path):
    """Owned by another user, writable by group or others, or a symlink another user owns:
    one line that says why and what to do, never taken."""
    toml = tmp_path / "course.toml"
    toml.write_text('runs = "/srv/elsewhere"\n')
    toml.chmod(0o644)
    assert courseconf.current(tmp_path).runs == Path("/srv/elsewhere")
    os.chown(toml, NOBODY, NOBODY)
    with pytest.raises(UsageError, match=f"course.toml is owned by uid {NOBODY}, not by you or root, so it "
                                         "is not taken as the course's configuration") as refused:
        courseconf.current(tmp_path)
    assert "chmod go-w" in str(refused.value) and "\n" not in str(refused.value)
    os.chown(toml, os.geteuid(), os.getegid())
    for mode, who in ((0o664, "its group"), (0o646, "others")):
        toml.chmod(mode)
        with pytest.raises(UsageError, match=f"course.toml is writable by {who} \\(mode 0{mode:o}\\)"):
            courseconf.current(tmp_path)
    toml.chmod(0o644)
    course = tmp_path / "course"
    course.mkdir()
    (course / "course.toml").symlink_to(toml)
    assert courseconf.current(course).runs == Path("/srv/elsewhere")
    os.chown(course / "course.toml", NOBODY, NOBODY, follow_symlinks=False)
    with pytest.raises(UsageError, match=f"course.toml is a symlink owned by uid {NOBODY}"):
        courseconf.current(course)


def test_the_search_for_course_toml_stops_at_the_repository_and_at_home(tmp_path):
    (tmp_path / "course.toml").write_text('jobs = 3\n')
    work = tmp_path / "me" / "labs" / "week1"
    work.mkdir(parents=True)
    assert courseconf.current(work, home=tmp_path / "elsewhere").jobs == 3
    assert courseconf.current(work, home=tmp_path / "me") is None        # home: no further
    (tmp_path / "me" / "labs" / ".git").mkdir()
    assert courseconf.current(work, home=tmp_path / "elsewhere") is None  # a repository: no further
    (tmp_path / "me" / "labs" / "course.toml").write_text('jobs = 5\n')
    assert courseconf.current(work, home=tmp_path / "me").jobs == 5      # its own root still counts


def test_a_planted_course_toml_stops_grade_with_one_line(tmp_path):
    """/tmp/course.toml written by another user would set the run directory and the gradebook:
    grade refuses it, grades nobody and writes nothing."""
    from toyhelp import host, run

    (tmp_path / "course.toml").write_text(f'runs = "{tmp_path / "theirs"}"\ngradebook = "sqlite:///{tmp_path}/gb.db"\n')
    os.chown(tmp_path / "course.toml", NOBODY, NOBODY)
    cwd = tmp_path / "class"
    cwd.mkdir()
    status, out, err = run(grade, "toy", "--host", host("right"), cwd=cwd)
    assert status == 2 and not out
    assert err.startswith(f"error: {tmp_path / 'course.toml'} is owned by uid {NOBODY}") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["class", "course.toml"]
