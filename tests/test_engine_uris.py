"""`--host URI` / `--host ROLE=URI` and the one rule for default URIs: roles resolved, every
mistake one clear UsageError. URIs are data: only the transports and parameters the grader needs,
read the way libvirt reads them, and no URI runs a program."""
from __future__ import annotations

import re

import pytest

from grader.core.uris import allowed_params, check_uri, default_uri, params, parse_hosts, runs_program
from grader.errors import UsageError

A = ("A",)
AB = ("A", "B")


def test_a_bare_uri_is_role_a():
    assert parse_hosts(["qemu:///system"], A, {}) == {"A": "qemu:///system"}


def test_roles_are_case_insensitive_and_query_strings_pass():
    uri = "qemu+unix:///system?socket=/run/libvirt/libvirt-sock-ro"
    assert parse_hosts([f"a={uri}", "B=qemu+ssh://root@10.0.0.12/system"], AB, {}) == {
        "A": uri, "B": "qemu+ssh://root@10.0.0.12/system"}


def test_role_a_is_lab_uri_a_then_libvirt_default_uri_then_the_local_system():
    both = {"LAB_URI_A": "qemu+tcp://127.0.0.1:16610/system", "LIBVIRT_DEFAULT_URI": "qemu+tcp://h/system"}
    assert parse_hosts([], A, both) == {"A": "qemu+tcp://127.0.0.1:16610/system"}
    assert parse_hosts([], A, {"LIBVIRT_DEFAULT_URI": "qemu+tcp://h/system"}) == {"A": "qemu+tcp://h/system"}
    assert default_uri("A", {}) == "qemu:///system"
    assert default_uri("B", {}) is None


def test_without_host_other_roles_come_from_lab_uri_variables():
    env = {"LIBVIRT_DEFAULT_URI": "qemu+tcp://127.0.0.1:16610/system",
           "LAB_URI_B": "qemu+tcp://127.0.0.1:16620/system"}
    assert parse_hosts([], AB, env) == {"A": "qemu+tcp://127.0.0.1:16610/system",
                                        "B": "qemu+tcp://127.0.0.1:16620/system"}
    # an explicit --host is taken as the whole answer: a missing role is still named
    with pytest.raises(UsageError, match="add --host B=URI"):
        parse_hosts(["qemu:///system"], AB, env)
    with pytest.raises(UsageError, match="add --host B=URI .or set LAB_URI_B"):
        parse_hosts([], AB, {"LIBVIRT_DEFAULT_URI": "qemu:///system"})


def test_the_notebook_and_grade_agree_on_the_default_hosts(monkeypatch):
    """One rule: the notebook's "check my work" reads the same environment the same way."""
    import grader.notebook  # noqa: F401 - imported for its rule, shared with grade

    env = {"LAB_URI_A": "qemu+tcp://127.0.0.1:16610/system", "LIBVIRT_DEFAULT_URI": "qemu+tcp://x/system"}
    assert parse_hosts([], A, env)["A"] == default_uri("A", env) == env["LAB_URI_A"]


@pytest.mark.parametrize("values,roles,message", [
    (["not a uri"], A, "malformed libvirt URI 'not a uri'"),
    (["qemu:/system"], A, "malformed libvirt URI"),
    (["qemu:///system\n"], A, "malformed libvirt URI"),
    (["A=qemu:///system", "a=qemu:///session"], A, "role A given twice"),
    (["C=qemu:///system"], A, "this lab has no role C: its roles are A"),
    (["qemu:///system"], AB, "this lab needs roles A, B: add --host B=URI"),
])
def test_mistakes_are_one_line_usage_errors(values, roles, message):
    with pytest.raises(UsageError, match=message) as err:
        parse_hosts(values, roles, {})
    assert "\n" not in str(err.value)


def test_check_uri_returns_a_good_uri():
    assert check_uri("test:///default") == "test:///default"


@pytest.mark.parametrize("uri", [
    "qemu:///system", "qemu:///session",
    "qemu+unix:///system?socket=/run/libvirt/libvirt-sock-ro",
    "qemu+ssh://grader@10.0.0.11/system?socket=/var/run/libvirt/libvirt-sock-ro&keyfile=/home/i/.ssh/grader",
    "qemu+ssh://root@pc1.lab.example:2222/system?no_tty=1&known_hosts=/home/i/course/known_hosts",
    "qemu+libssh://grader@10.0.0.11/system?known_hosts=/home/i/known_hosts&keyfile=/home/i/.ssh/id",
    "qemu+tcp://127.0.0.1:16610/system",
    "qemu+tls://host.example/system?pkipath=/var/lib/kvm-storage-lab/pki/a",
    "qemu://host.example/system",                       # libvirt's default transport: tls
    "qemu+tls://[fd00::5]:16514/system",
    "test:///default", "test:///srv/hosts/ana.xml", "test+tcp://127.0.0.1:5000/srv/hosts/ana.xml",
])
def test_the_transports_and_parameters_the_grader_needs_are_accepted(uri):
    assert check_uri(uri) == uri
    assert runs_program(uri) is None


@pytest.mark.parametrize("uri,says", [
    ("qemu+ext:///system?command=/tmp/x", "the ext transport runs a program on this machine"),
    ("qemu+ssh://h/system?command=/tmp/x", "command= runs a program on this machine"),
    ("qemu+ssh://h/system?COMMAND=/tmp/x", "command= runs a program"),         # libvirt: any case
    ("qemu+ssh://h/system?%63ommand=/tmp/x", "command= runs a program"),        # %-escaped name
    ("qemu+unix:///system?socket=/x;command=/tmp/x", "command= runs a program"),  # libvirt splits at ;
    ("qemu+ssh://h/system?netcat=/tmp/nc", "netcat= runs a program of its choosing on the host"),
    ("qemu+ssh://h/system?no_verify=1", "no_verify= turns the host-key or certificate check off"),
    ("qemu+tls://h/system?no_verify=1", "no_verify= turns the host-key or certificate check off"),
    ("qemu+libssh://h/system?known_hosts_verify=ignore", "known_hosts_verify= can only weaken"),
    ("qemu+ssh://h/system?mode=legacy", "mode= is not a parameter the grader needs over ssh (keyfile=, "
                                        "known_hosts=, socket=, no_tty=): remove it, or allow it for "
                                        "this run with --allow-uri-param mode"),
    ("qemu+tcp://h/system?socket=/x", "socket= is not a parameter the grader needs over tcp (no parameters)"),
    ("qemu+ssh://h/system?keyfile=id_rsa", "keyfile= must be an absolute path"),
    ("qemu+ssh://h/system?keyfile=/a%20-oProxyCommand=x", "keyfile= must be an absolute path"),
    ("qemu+ssh://h/system?no_tty=yes", "no_tty= is 0 or 1"),
    ("qemu+ssh://-oProxyCommand=x/system", "malformed libvirt URI"),          # ssh would read an option
    ("qemu+ssh://-l@h/system", "malformed libvirt URI"),
    ("qemu+ssh://h/system#x", "malformed libvirt URI"),
    ("qemu+unix://h/system", "malformed libvirt URI"),
    ("qemu+tcp://h:99999/system", "malformed libvirt URI"),
    ("hail", "malformed libvirt URI"),                                         # a libvirt.conf alias
    ("qemu:///embed?root=/tmp/x", "a qemu URI ends in /system or /session"),
    ("xen+ssh://h/system", "the grader reads qemu hosts"),
    ("qemu+libssh2://h/system", "transport 'libssh2' is not one the grader uses"),
    ("qemu+ssh://h/syst\u00e9m", "malformed libvirt URI"),
])
def test_anything_else_is_a_one_line_error_that_says_what_to_do(uri, says):
    with pytest.raises(UsageError, match=re.escape(says)) as refused:
        check_uri(uri)
    assert "\n" not in str(refused.value)


def test_an_instructor_allows_one_more_parameter_but_never_a_program():
    allow = allowed_params(["mode", "TLS_PRIORITY"])
    assert allow == {"mode", "tls_priority"}
    assert check_uri("qemu+ssh://h/system?mode=legacy", allow)
    assert check_uri("qemu+tls://h/system?tls_priority=NORMAL:-VERS-SSL3.0&pkipath=/p", allow)
    for never in ("command", "netcat", "no_verify", "Known_Hosts_Verify"):
        with pytest.raises(UsageError, match="so no URI may carry it"):
            allowed_params([never])
    with pytest.raises(UsageError, match="give a libvirt URI parameter name"):
        allowed_params(["socket=/x"])
    assert parse_hosts(["qemu+ssh://h/system?mode=direct"], A, {}, allow) == {"A": "qemu+ssh://h/system?mode=direct"}
    with pytest.raises(UsageError, match="--allow-uri-param mode"):
        parse_hosts(["qemu+ssh://h/system?mode=direct"], A, {})


def test_the_environment_is_checked_too():
    with pytest.raises(UsageError, match="command= runs a program"):
        parse_hosts([], A, {"LIBVIRT_DEFAULT_URI": "qemu+ssh://h/system?command=/tmp/x"})


@pytest.mark.parametrize("query,expected", [
    ("a=1&b=2", [("a", "1"), ("b", "2")]),
    ("a=1;b=2", [("a", "1"), ("b", "2")]),
    ("a=1&b=2;c=3", [("a", "1"), ("b", "2"), ("c", "3")]),
    ("a=1;b=2&c=3", [("a", "1;b=2"), ("c", "3")]),      # a `;` before an `&` stays in the value
    ("a&=x&&B=%2Fp", [("a", ""), ("b", "/p")]),
    ("", []),
])
def test_parameters_are_read_as_libvirt_reads_them(query, expected):
    """virURIParseParams: the next `&`, else the next `;`; `name` alone; `=value` ignored;
    names compared in any case by the remote driver."""
    assert params(query) == expected
