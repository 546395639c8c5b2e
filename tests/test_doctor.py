"""`lab doctor`: one line per finding with what to fix, exit 1 when a lab cannot run there.

The judgement is pure (grader.doctor.judge) and tested on facts written here; the command runs
for real on the lab hosts, also through lab host a's read-only socket, which refuses every change:
so everything the doctor does is reading.
"""
from __future__ import annotations

import io

import pytest
from click.testing import CliRunner

from grader.cli.environment import Environment
from grader.cli.main import lab
from grader.doctor.judge import blocked, judge
from grader.doctor.hostfacts import Clock, HostFacts, Pool, Service, read_clock
from grader.core import labdef
from grader.labhosts.config import Settings


def labs(*ids: str) -> list[labdef.Lab]:
    """The course's labs by id: the doctor judges what each one's [needs] says."""
    return [labdef.load(i) for i in ids]


ALL = labs("lab1", "lab2", "lab3", "lab4")
SHARE = Service("share", "nfs://nfs.lab/exports/kvm", "nfs.lab", 2049, True)
ISCSI = Service("iscsi", "iscsi.lab iqn.2024-01.lab:t", "iscsi.lab", 3260, True)


def host(role="A", **changes) -> HostFacts:
    facts = dict(role=role, uri=f"qemu+ssh://root@pc-{role.lower()}/system", hostname=f"pc-{role.lower()}",
                 libvirt=9_000_000, qemu=7_002_000, uuid=f"uuid-{role}", domain_types=("kvm", "qemu"),
                 supported=("dir", "fs", "netfs", "logical", "disk", "iscsi"), unsupported=("zfs",),
                 clock=Clock(0.5, "date over ssh"))
    facts.update(changes)
    return HostFacts(**facts)


def lines(findings) -> str:
    return "\n".join(f.line() for f in findings)


def test_a_ready_classroom_pair_stops_no_lab():
    findings = judge({"A": host("A"), "B": host("B", clock=Clock(1.5, "date over ssh"))}, [SHARE, ISCSI], ALL)
    assert blocked(findings) == []
    text = lines(findings)
    assert "A  ok    reachable: qemu+ssh://root@pc-a/system (host pc-a, libvirt 9.0.0, QEMU 7.2.0)" in text
    assert "pool types supported: dir, fs, netfs, logical, disk, iscsi (not: zfs)" in text
    assert "clocks of A and B differ by 1.0 s" in text


def test_an_unreachable_host_stops_its_labs_and_says_what_to_check():
    findings = judge({"A": host("A", error="cannot connect to qemu+ssh://root@pc-a/system: timeout")}, [], labs("lab3"))
    assert blocked(findings) == ["lab3"]
    assert "FAIL  unreachable: cannot connect" in lines(findings) and "check the URI" in lines(findings)


def test_lab5_needs_disk_logical_and_zfs_pools():
    findings = judge({"A": host("A")}, [], labs("lab5"))
    assert blocked(findings) == ["lab5"]
    [fail] = [f for f in findings if f.level == "FAIL"]
    assert fail.text == "lab5 defines a zfs pool, which this libvirt does not support"
    assert "zfsutils-linux and libvirt-daemon-driver-storage-zfs" in fail.fix
    ready = judge({"A": host("A", supported=("dir", "disk", "logical", "zfs"), unsupported=())}, [], labs("lab5"))
    assert blocked(ready) == []


def test_a_missing_pool_type_names_the_packages_to_install():
    findings = judge({"A": host("A", supported=("dir", "netfs"))}, [SHARE, ISCSI], labs("lab1", "lab3"))
    assert blocked(findings) == ["lab1"]
    [fail] = [f for f in findings if f.level == "FAIL"]
    assert "lab1 defines a iscsi or iscsi-direct pool" in fail.text
    assert "open-iscsi" in fail.fix and "libvirt-daemon-driver-storage-iscsi-direct" in fail.fix


def test_tcg_and_an_old_libvirt_are_warnings_not_stops():
    findings = judge({"A": host("A", domain_types=("qemu",), libvirt=8_000_000)}, [], labs("lab3"))
    assert blocked(findings) == []
    assert any(f.level == "warn" and f.text.startswith("TCG only") for f in findings)
    assert any(f.level == "info" and "cannot revert to external snapshots" in f.text for f in findings)


def test_lab4_needs_two_hosts_with_their_own_identity_and_warns_about_clock_skew():
    twins = judge({"A": host("A"), "B": host("B", uuid="uuid-A", clock=Clock(42.0, "date over ssh"))},
                  [SHARE], labs("lab4"))
    assert blocked(twins) == ["lab4"]
    assert "same host UUID" in lines(twins) and "host_uuid" in lines(twins)
    assert any(f.level == "warn" and "differ by 41.5 s" in f.text and "chrony" in f.fix for f in twins)
    alone = judge({"A": host("A")}, [SHARE], labs("lab4"))
    assert "lab4 needs host B too: add --host B=URI" in lines(alone)


def test_a_pool_of_the_host_on_the_course_source_blocks_the_labs_pool():
    other = Pool("old-share", "netfs", True, host="nfs.lab", path="/exports/kvm", format="nfs")
    findings = judge({"A": host("A", pools=(other,))}, [SHARE, ISCSI], labs("lab1", "lab3", "lab4"))
    assert blocked(findings) == ["lab1", "lab4"]          # the labs whose [needs] name the export
    assert "pool old-share already uses the course's source" in lines(findings)
    assert "virsh pool-destroy old-share; virsh pool-undefine old-share" in lines(findings)
    mine = Pool("lab4-shared", "netfs", True, host="nfs.lab", path="/exports/kvm", format="nfs")
    assert blocked(judge({"A": host("A", pools=(mine,))}, [SHARE], labs("lab4"))) == []


def test_host_text_reaches_the_terminal_as_letters():
    """A host name or pool name with an escape sequence, a newline or a bidirectional override
    is shown escaped, on the finding's own line: the doctor prints host text like every renderer."""
    a = host("A", hostname="pc\x1b]0;owned\x07\x1b[2J", error=None,
             pools=(Pool("mine\n A  ok    ready\u202e", "netfs", True, host="nfs.lab", path="/exports/kvm"),))
    lines = [f.line() for f in judge({"A": a}, [SHARE], labs("lab1"))]
    text = "\n".join(lines)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "(host pc\\x1b]0;owned\\x07\\x1b[2J, libvirt 9.0.0" in text
    conflict = next(line for line in lines if "already uses the course's source" in line)
    assert conflict.startswith("A  FAIL  pool mine A ok ready\\u202e already uses")
    assert "virsh pool-destroy mine A ok ready\\u202e" in conflict
    unreachable = judge({"A": host("A", error="cannot connect: \x1b[31mno\nroute")}, [], labs("lab3"))
    assert unreachable[0].line().startswith("A  FAIL  unreachable: cannot connect: \\x1b[31mno route")


def test_unnamed_or_silent_services_stop_lab1_and_lab4():
    silent = Service("share", "nfs://nfs.lab/exports/kvm", "nfs.lab", 2049, False, "Connection refused")
    findings = judge({"A": host("A")}, [silent], labs("lab1", "lab4"))
    assert blocked(findings) == ["lab1", "lab4"]
    assert "does not answer on nfs.lab:2049 from this machine: Connection refused" in lines(findings)
    assert "the course's iSCSI target is not named — set LAB_ISCSI_HOST, LAB_ISCSI_TARGET" in lines(findings)


def test_hosts_on_this_machine_share_its_clock_and_tcp_hosts_have_none_to_read():
    assert read_clock("qemu+tcp://127.0.0.1:16610/system") == Clock(0.0, "this machine's clock")
    assert read_clock("qemu:///system").offset == 0.0
    assert read_clock("qemu+tcp://10.0.0.12/system").offset is None


# --- the command, on the lab hosts -------------------------------------------------------------

def _doctor(*args, env=None):
    streams = Environment(env=env or {}, cwd=Settings.from_env().home, stdout=io.StringIO(), stderr=io.StringIO())
    result = CliRunner().invoke(lab, ["doctor", *args], obj=streams)
    return result.exit_code, streams.stdout.getvalue(), streams.stderr.getvalue()


@pytest.mark.labhost
def test_the_lab_hosts_are_ready_for_every_lab_but_lab5(labhosts):
    """Light lab hosts share this machine's kernel: no device-mapper or ZFS, so no lab5."""
    status, out, err = _doctor(env=labhosts.env)
    assert status == 1, out + err
    assert f"A  ok    reachable: {labhosts.uri('a')}" in out and f"B  ok    reachable: {labhosts.uri('b')}" in out
    assert "pool types supported: dir" in out and "the course's export" in out
    assert "A  FAIL  lab5 defines a zfs pool, which this libvirt does not support" in out
    assert out.strip().endswith("cannot run here: lab5")
    status, out, err = _doctor(*[f"--lab={lab.id}" for lab in ALL], env=labhosts.env)
    assert status == 0 and out.strip().endswith("ready for lab1, lab2, lab3, lab4"), out + err


@pytest.mark.labhost
def test_a_new_lab_folder_is_judged_by_its_own_needs(labhosts, tmp_path):
    """A lab6 folder (the engine's toy lab, copied) with its [needs]: the doctor checks it with
    no change in grader/, from LAB_LABS_DIR."""
    import shutil

    from toyhelp import LABS_DIR

    def lab6(folder: str, pools: str) -> dict:
        shutil.copytree(LABS_DIR / "toy", tmp_path / folder / "lab6")
        toml = tmp_path / folder / "lab6" / "lab.toml"
        toml.write_text(toml.read_text().replace('id = "toy"', 'id = "lab6"').replace('A = ["dir"]', pools))
        return {**labhosts.env, "LAB_LABS_DIR": str(tmp_path / folder)}

    status, out, err = _doctor(env=lab6("zfs", 'A = ["dir", "zfs"]'))
    assert status == 1, out + err
    assert "A  FAIL  lab6 defines a zfs pool, which this libvirt does not support" in out
    assert out.strip().endswith("cannot run here: lab6") and "lab3" not in out
    status, out, err = _doctor(env=lab6("dir", 'A = ["dir"]'))
    assert status == 0 and out.strip().endswith("ready for lab6"), out + err


@pytest.mark.labhost
def test_the_doctor_only_reads_a_read_only_socket_serves_it_all(labhosts):
    socket = Settings.from_env().host_dir("a") / "run" / "libvirt-sock-ro"
    status, out, err = _doctor("--host", f"qemu+unix:///system?socket={socket}", "--lab", "lab3",
                               env=labhosts.env)
    assert status == 0, out + err
    assert "pool types supported: dir" in out and "ready for lab3" in out


@pytest.mark.labhost
def test_a_host_that_is_not_there_exits_1_with_one_line_per_finding(labhosts):
    status, out, _ = _doctor("--host", "qemu+tcp://127.0.0.1:1/system", "--lab", "lab2", env=labhosts.env)
    assert status == 1
    assert out.splitlines()[0].startswith("A  FAIL  unreachable: cannot connect to qemu+tcp://127.0.0.1:1/system")
    assert out.splitlines()[-1] == "cannot run here: lab2"
