"""`--host URI` / `--host ROLE=URI`: roles resolved, every mistake one clear UsageError."""
from __future__ import annotations

import pytest

from grader.errors import ExitStatus, UsageError
from grader.hostargs import check_uri, default_uri, parse_hosts

A = ("A",)
AB = ("A", "B")


def test_a_bare_uri_is_role_a():
    assert parse_hosts(["qemu:///system"], A) == {"A": "qemu:///system"}


def test_roles_are_case_insensitive_and_query_strings_pass():
    uri = "qemu+unix:///system?socket=/run/libvirt/libvirt-sock-ro"
    assert parse_hosts([f"a={uri}", "B=qemu+ssh://root@10.0.0.12/system"], AB) == {
        "A": uri, "B": "qemu+ssh://root@10.0.0.12/system"}


def test_default_is_libvirt_default_uri(monkeypatch):
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "qemu+tcp://127.0.0.1:16610/system")
    assert parse_hosts([], A) == {"A": "qemu+tcp://127.0.0.1:16610/system"}
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI")
    assert default_uri() == "qemu:///system"


def test_without_host_other_roles_come_from_lab_uri_variables(monkeypatch):
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "qemu+tcp://127.0.0.1:16610/system")
    monkeypatch.setenv("LAB_URI_B", "qemu+tcp://127.0.0.1:16620/system")
    assert parse_hosts([], AB) == {"A": "qemu+tcp://127.0.0.1:16610/system",
                                   "B": "qemu+tcp://127.0.0.1:16620/system"}
    # an explicit --host is taken as the whole answer: a missing role is still named
    with pytest.raises(UsageError, match="add --host B=URI"):
        parse_hosts(["qemu:///system"], AB)
    monkeypatch.delenv("LAB_URI_B")
    with pytest.raises(UsageError, match="add --host B=URI"):
        parse_hosts([], AB)


@pytest.mark.parametrize("values,roles,message", [
    (["not a uri"], A, "malformed libvirt URI 'not a uri'"),
    (["qemu:/system"], A, "malformed libvirt URI"),
    (["A=qemu:///system", "a=qemu:///session"], A, "role A given twice"),
    (["C=qemu:///system"], A, "this lab has no role C: its roles are A"),
    (["qemu:///system"], AB, "this lab needs roles A, B: add --host B=URI"),
])
def test_mistakes_are_one_line_usage_errors(values, roles, message):
    with pytest.raises(UsageError, match=message) as err:
        parse_hosts(values, roles)
    assert "\n" not in str(err.value) and err.value.exit_status == ExitStatus.USAGE


def test_check_uri_returns_a_good_uri():
    assert check_uri("test:///default") == "test:///default"
