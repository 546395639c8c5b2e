"""lab4 without lab hosts: the shared-export option, the two-role command line, and the check
branches no captured fixture reaches (derived from captured evidence by editing its XML)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from grader.core import labdef
from grader.cli.main import grade, lab
from grader.cli.exits import ExitStatus
from grader.errors import UsageError
from grader.core.evidence import Evidence
from grader.core.scoring import score
from grader.core import share

FIXTURES = labdef.DEFAULT.folder / "lab4" / "fixtures"


# --- the shared export -------------------------------------------------------------------------

def test_share_option_parses_format_host_and_path():
    got = share.parse("glusterfs://vm/labshare-1")
    assert got == share.Share("glusterfs", "vm", "/labshare-1")
    assert got.as_source() == {"host": "vm", "dir": "/labshare-1", "format": "glusterfs"}
    assert share.parse("NFS://10.0.0.5/srv/lab/").path == "/srv/lab"


def test_share_option_wins_over_environment():
    env = {"LAB_SHARE_FORMAT": "nfs", "LAB_SHARE_HOST": "h", "LAB_SHARE_PATH": "/x"}
    assert share.resolve("glusterfs://vm/v", env).format == "glusterfs"
    assert share.resolve(None, env) == share.Share("nfs", "h", "/x")


@pytest.mark.parametrize("option,env,message", [
    (None, {}, "the course's shared export is needed for lab4-shared"),
    ("vm:/labshare", {}, "malformed --share 'vm:/labshare'"),
    ("cifs://vm/share", {}, "share format 'cifs' is not one of nfs, glusterfs"),
    (None, {"LAB_SHARE_HOST": "vm"}, "must all be set"),
    (None, {"LAB_SHARE_HOST": "vm", "LAB_SHARE_PATH": "v", "LAB_SHARE_FORMAT": "nfs"}, "must start with '/'"),
])
def test_share_mistakes_are_one_line_usage_errors_saying_what_to_pass(option, env, message):
    with pytest.raises(UsageError, match=message) as err:
        share.resolve(option, env)
    assert "\n" not in str(err.value)
    assert "--share FORMAT://HOST/PATH" in str(err.value)


def test_lab_start_without_a_share_says_what_to_pass_and_touches_nothing(monkeypatch):
    for key in ("LAB_SHARE_HOST", "LAB_SHARE_PATH", "LAB_SHARE_FORMAT"):
        monkeypatch.delenv(key, raising=False)
    result = CliRunner().invoke(lab, ["start", "lab4", "--host", "A=test:///default",
                                      "--host", "B=test:///default"])
    assert result.exit_code == ExitStatus.USAGE
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert "--share FORMAT://HOST/PATH" in result.output and "LAB_SHARE_HOST" in result.output


# --- two roles on the command line -------------------------------------------------------------

@pytest.mark.parametrize("command", [["lab4", "--host", "test:///default"],
                                     ["lab4", "--host", "A=test:///default"]])
def test_grade_with_one_host_names_the_missing_role(command):
    result = CliRunner().invoke(grade, command)
    assert result.exit_code == ExitStatus.USAGE
    assert result.output.strip() == "error: this lab needs roles A, B: add --host B=URI"


def test_grade_with_only_b_names_role_a():
    result = CliRunner().invoke(grade, ["lab4", "--host", "B=test:///default"])
    assert result.exit_code == ExitStatus.USAGE
    assert "add --host A=URI" in result.output


def test_lab_definition_matches_the_curriculum():
    lab4 = labdef.load("lab4")
    assert lab4.roles == ("A", "B")
    assert [(e.id, e.points) for e in lab4.exercises] == [
        ("cold-migrate", 4), ("shared-pool", 2), ("live-migrate", 4)]
    assert lab4.scope.job_stats and lab4.scope.host_facts
    assert not lab4.catalog.missing_translations()


# --- check branches, from captured evidence edited offline -------------------------------------

def _solved() -> dict:
    data = json.loads((FIXTURES / "solved.json").read_text())
    data.pop("expect")
    return data


def _grade(data: dict, lang: str = "en") -> dict:
    result = score(labdef.load("lab4"), Evidence.from_dict(data), lang)
    return {e.id: e for e in result.exercises}


def _live_b(data: dict) -> dict:
    return data["hosts"]["B"]["domains"]["lab4-live"]


def test_started_again_after_an_incoming_migration_is_half_and_says_so():
    """libvirt's reason is `booted` once the domain is started again; the completed-job
    statistics (which outlive destroy and start) explain how it got there."""
    data = _solved()
    dom = _live_b(data)
    assert dom["reason"] == "migrated" and dom["job_stats"]["operation"] == 4  # incoming migration
    dom["reason"] = "booted"
    got = _grade(data)["live-migrate"]
    assert (got.score, got.messages) == (2, ["live-restarted-after-migration"])
    assert "started again after arriving" in got.feedback


def test_the_state_reason_decides_without_job_statistics():
    """After B's libvirtd restarts the statistics are gone; libvirt keeps the reason."""
    data = _solved()
    _live_b(data)["job_stats"] = None
    got = _grade(data)["live-migrate"]
    assert (got.score, got.messages) == (4, ["live-ok"])


@pytest.mark.parametrize("reason,message,words", [
    ("booted", "live-cold-move", "state reason: booted"),
    ("unpaused", "live-interrupted", "suspended and resumed"),
    ("restored", "live-interrupted", "saved and restored"),
    (None, "live-cold-move", "state reason: unknown"),
])
def test_a_domain_not_running_because_it_migrated_earns_half(reason, message, words):
    """Whatever its XML or metadata say (the live-only marker can be set by hand), a domain whose
    reason is not `migrated` did not arrive live, or its live run was interrupted since."""
    data = _solved()
    dom = _live_b(data)
    dom["reason"], dom["job_stats"] = reason, None
    got = _grade(data)["live-migrate"]
    assert (got.score, got.messages) == (2, [message])
    assert words in got.feedback
    assert "metadata" not in got.feedback


def test_live_domain_stopped_on_b_scores_nothing():
    data = _solved()
    _live_b(data)["state"] = "shutoff"
    got = _grade(data, "es")["live-migrate"]
    assert (got.score, got.messages) == (0, ["live-not-running"])
    assert "en caliente" in got.feedback


def test_live_domain_on_a_copy_of_its_disk_scores_nothing_and_names_the_disk():
    """Running on B, but from a disk outside lab4-shared: a copy, not the storage A used."""
    data = _solved()
    dom = _live_b(data)
    dom["xml"] = dom["xml"].replace("/var/lib/libvirt/lab4-shared/", "/var/lib/libvirt/images/")
    got = _grade(data)["live-migrate"]
    assert (got.score, got.messages) == (0, ["live-disk-not-shared"])
    assert "/var/lib/libvirt/images/lab4-live.qcow2" in got.feedback


def test_shared_pool_defined_but_not_started_scores_nothing():
    data = _solved()
    data["hosts"]["B"]["pools"]["lab4-shared"]["active"] = False
    got = _grade(data)["shared-pool"]
    assert (got.score, got.messages) == (0, ["shared-inactive"])


def test_shared_pool_at_another_mount_point_scores_nothing():
    data = _solved()
    pool = data["hosts"]["B"]["pools"]["lab4-shared"]
    pool["xml"] = pool["xml"].replace("/var/lib/libvirt/lab4-shared", "/mnt/elsewhere")
    got = _grade(data)["shared-pool"]
    assert (got.score, got.messages) == (0, ["shared-wrong-target"])
    assert "/mnt/elsewhere" in got.feedback


def test_feedback_teaches_why_live_migration_needs_shared_storage_in_both_languages():
    catalog = labdef.load("lab4").catalog.entries
    assert "shared storage" in catalog["live-ok"]["en"] and "unsafe" in catalog["live-ok"]["en"]
    assert "almacenamiento compartido" in catalog["live-ok"]["es"] and "insegura" in catalog["live-ok"]["es"]
    for key in ("live-not-on-b", "shared-other-source"):
        assert "unsafe" in catalog[key]["en"] and "insegura" in catalog[key]["es"]


# --- where the memory stream goes (labs/lab4/solution.py) ----------------------------------------

@pytest.mark.parametrize("uri_b, env, expected", [
    ("qemu+tcp://127.0.0.1:16620/system", {}, {"migrate_uri": "tcp://127.0.0.1", "listen_address": "127.0.0.1"}),
    ("qemu+ssh://root@10.0.0.13/system", {}, {"migrate_uri": "tcp://10.0.0.13"}),
    ("qemu+ssh://root@pc13.lab.example/system", {}, {"migrate_uri": "tcp://pc13.lab.example"}),
    ("qemu+ssh://root@[fd00::13]/system", {}, {"migrate_uri": "tcp://[fd00::13]"}),
    ("qemu+ssh://root@pc13/system", {"LAB_MIGRATION_HOST": "192.168.50.13"}, {"migrate_uri": "tcp://192.168.50.13"}),
    # What `lab hosts env` prints: light hosts listen on loopback; VM hosts need nothing.
    ("qemu+tcp://127.0.0.1:16620/system",
     {"LAB_MIGRATE_FLAGS": "--migrateuri tcp://127.0.0.1 --listen-address 127.0.0.1"},
     {"migrate_uri": "tcp://127.0.0.1", "listen_address": "127.0.0.1"}),
    ("qemu+tcp://127.0.0.1:17620/system", {"LAB_MIGRATE_FLAGS": ""}, {}),
    ("qemu+tcp://127.0.0.1:17620/system",
     {"LAB_MIGRATE_FLAGS": "", "LAB_MIGRATION_HOST": "10.0.0.13"}, {"migrate_uri": "tcp://10.0.0.13"}),
])
def test_the_memory_stream_goes_to_an_address_of_b_that_a_can_reach(uri_b, env, expected):
    """Never left to B's own host name (often 127.0.1.1 on Debian): B's address from its URI."""
    from labs.lab4.solution import migration_params

    assert migration_params(uri_b, env) == expected


@pytest.mark.parametrize("flags, why", [
    ("--unsafe", "only --migrateuri and --listen-address"),
    ("--migrateuri", "ends with '--migrateuri' and no value"),
])
def test_migrate_flags_the_solution_cannot_use_are_one_line(flags, why):
    from labs.lab4.solution import migration_params

    with pytest.raises(ValueError, match=why):
        migration_params("qemu+tcp://127.0.0.1:16620/system", {"LAB_MIGRATE_FLAGS": flags})
