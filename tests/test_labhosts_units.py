"""Lab hosts without daemons: names, ports, configs, KVM detection (libvirt's test driver)."""
from __future__ import annotations

import shutil
import stat
import subprocess

import libvirt
import pytest
from click.testing import CliRunner

from grader.cli.main import lab
from grader.errors import UsageError
from grader.labhosts import daemons, kvm, pki
from grader.labhosts.config import DEFAULT_HOME, Settings, validate_name
from grader.labhosts.daemons import Host
from grader.labhosts.lifecycle import Service

CAPS = """<capabilities><host><uuid>u</uuid><cpu><arch>x86_64</arch></cpu></host>
  <guest><os_type>hvm</os_type><arch name='i686'><domain type='qemu'/>{i686}</arch></guest>
  <guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/>{x86_64}</arch></guest>
</capabilities>"""


@pytest.mark.parametrize("name", ["a", "b", "lab4", "x1", "abcdefghijkl"])
def test_short_lowercase_names_are_valid(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "A", "1a", "a-b", "a_b", "a b", "abcdefghijklm", "../a"])
def test_other_names_are_a_usage_error(name):
    with pytest.raises(UsageError, match="invalid host name"):
        validate_name(name)


def test_ports_are_stable_distinct_and_configurable():
    s = Settings.from_env({})
    assert (s.home, s.port("a"), s.port("b")) == (DEFAULT_HOME, 16610, 16620)
    assert s.uri("a") == "qemu+tls://127.0.0.1:16610/system?pkipath=/var/lib/kvm-storage-lab/pki"
    spaced = Settings.from_env({"LAB_HOME": "/tmp/lab home"})
    assert spaced.uri("a").endswith("?pkipath=/tmp/lab%20home/pki")
    assert s.port("lab4") == Settings.from_env({}).port("lab4")  # a stable hash
    assert s.port("lab4") not in {s.port(c) for c in "abcdefghijklmnopqrstuvwxyz"}
    moved = Settings.from_env({"LAB_PORT_BASE": "20000", "LAB_PORT_B": "21000"})
    assert (moved.port("a"), moved.port("b"), moved.iscsi_port) == (20010, 21000, 20000)
    assert moved.iscsi_portal == "127.0.0.1:20000"


def test_default_lab_hosts_serve_iscsi_on_its_standard_port():
    """So `virsh pool-define-as ... --source-host "$LAB_ISCSI_HOST"` works as typed."""
    s = Settings.from_env({})
    assert (s.iscsi_port, s.iscsi_portal) == (3260, "127.0.0.1")
    other = Settings.from_env({"LAB_HOME": "/tmp/elsewhere"})
    assert other.iscsi_portal == f"127.0.0.1:{other.port_base}"


@pytest.mark.parametrize("env, message", [
    ({"LAB_PORT_BASE": "http"}, "not a port number"),
    ({"LAB_PORT_A": "80"}, "not a port number"),
    ({"LAB_PORT_BASE": "65000"}, "too high"),
    ({"LAB_HOME": "relative/dir"}, "absolute path"),
    ({"LAB_ACCEL": "hvf"}, "LAB_ACCEL"),
])
def test_bad_settings_are_usage_errors(env, message):
    with pytest.raises(UsageError, match=message):
        Settings.from_env(env)


def test_each_lab_home_has_its_own_shared_storage_names():
    default, other = Settings.from_env({}), Settings.from_env({"LAB_HOME": "/tmp/x"})
    assert default.share_volume == "labshare"
    assert other.share_volume.startswith("labshare-")
    assert default.iscsi_target != other.iscsi_target


def test_host_config_is_tls_on_loopback_only_with_its_own_uuid(tmp_path):
    settings = Settings.from_env({"LAB_HOME": str(tmp_path)})
    conf = daemons.libvirtd_conf(16610, "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
                                 pki.libvirtd_tls_conf(settings))
    assert 'listen_addr = "127.0.0.1"' in conf and 'tls_port = "16610"' in conf
    assert "listen_tcp = 0" in conf and "listen_tls = 1" in conf and "auth_tcp" not in conf
    assert f'ca_file = "{tmp_path}/pki/cacert.pem"' in conf
    assert f'tls_allowed_dn_list = ["{pki.CLIENT_DN}"]' in conf
    assert 'host_uuid = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"' in conf
    qemu = daemons.qemu_conf(16610)
    assert "remember_owner = 0" in qemu and "cgroup_controllers = [ ]" in qemu
    assert "migration_port_min = 16611" in qemu and "migration_port_max = 16619" in qemu


@pytest.mark.parametrize("i686, x86_64, expected", [
    ("", "<domain type='kvm'/>", "kvm"),
    ("", "", "qemu"),
    ("<domain type='kvm'/>", "", "qemu"),  # KVM for another architecture does not count
])
def test_domain_type_comes_from_the_capabilities(i686, x86_64, expected):
    assert kvm.domain_type_from_capabilities(CAPS.format(i686=i686, x86_64=x86_64)) == expected


def test_domain_type_works_on_any_connection():
    conn = libvirt.open("test:///default")
    try:
        assert kvm.domain_type(conn) == "qemu"  # the test driver offers no KVM
    finally:
        conn.close()


@pytest.mark.skipif(not shutil.which("certtool"), reason="certtool (gnutls-bin) not installed")
def test_the_pki_is_root_only_and_signs_a_server_for_loopback_and_our_client(tmp_path):
    settings = Settings.from_env({"LAB_HOME": str(tmp_path)})
    folder = pki.ensure(settings)
    assert folder == settings.pki_dir and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    assert set(pki.FILES) <= {p.name for p in folder.iterdir()}

    def info(name):
        return subprocess.run(["certtool", "-i", "--infile", str(folder / name)],
                              capture_output=True, text=True, check=True).stdout

    server, client = info("servercert.pem"), info("clientcert.pem")
    assert "IPAddress: 127.0.0.1" in server and "TLS WWW Server" in server
    assert "Subject: " + pki.CLIENT_DN in client and "TLS WWW Client" in client
    assert "Not Before: Sat Jan 01 00:00:00 UTC 2000" in client     # a lagging guest clock
    for cert in ("servercert.pem", "clientcert.pem"):
        verified = subprocess.run(["certtool", "--verify", "--load-ca-certificate",
                                   str(folder / "cacert.pem"), "--infile", str(folder / cert)],
                                  capture_output=True, text=True)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    before = pki.fingerprint(settings)
    assert pki.ensure(settings) == folder and pki.fingerprint(settings) == before   # kept


def test_kvm_device_problems_are_explained(tmp_path):
    assert "does not exist" in kvm.device_problem(str(tmp_path / "kvm"))
    (tmp_path / "file").write_text("")
    assert "not a character device" in kvm.device_problem(str(tmp_path / "file"))
    assert kvm.device_problem("/dev/null") is None  # crw-rw-rw-: usable by anyone


def test_lab_hosts_env_prints_posix_exports(monkeypatch):
    import grader.labhosts as api

    monkeypatch.setattr(api, "environment", lambda: {
        "LAB_URI_A": "qemu+tcp://127.0.0.1:16610/system", "LAB_SHARE_HOST": "my host"})
    result = CliRunner().invoke(lab, ["hosts", "env"])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "export LAB_URI_A=qemu+tcp://127.0.0.1:16610/system", "export LAB_SHARE_HOST='my host'"]


def test_lab_hosts_list_shows_kind_uri_state_accelerator_and_kernel(monkeypatch):
    import grader.labhosts as api

    monkeypatch.setattr(api, "status", lambda: [
        Host("a", "qemu+tcp://127.0.0.1:16610/system", 16610, "up", "kvm"),
        Host("b", "qemu+tcp://127.0.0.1:16620/system", 16620, "down", None),
        Host("c", "qemu+tcp://127.0.0.1:16630/system", 16630, "up", "tcg", kind="vm",
             kernel="6.1.0-50-amd64")])
    monkeypatch.setattr(api, "services", lambda: [Service("glusterfs", "vm:/labshare", "up")])
    result = CliRunner().invoke(lab, ["hosts", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "URI", "STATE", "ACCEL", "KERNEL"]
    assert lines[1].split() == ["a", "light", "qemu+tcp://127.0.0.1:16610/system", "up", "kvm", "-"]
    assert lines[2].split() == ["b", "light", "qemu+tcp://127.0.0.1:16620/system", "down", "-", "-"]
    assert lines[3].split() == ["c", "vm", "qemu+tcp://127.0.0.1:16630/system", "up", "tcg",
                                "6.1.0-50-amd64"]
    assert "glusterfs" in result.output
    assert "note: VM hosts run under TCG" in result.output


def test_lab_hosts_env_without_hosts_is_one_line(tmp_path):
    result = CliRunner().invoke(lab, ["hosts", "env"], env={"LAB_HOME": str(tmp_path)})
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "lab hosts up" in result.stderr


def test_a_port_left_in_time_wait_is_free_but_a_listener_is_not():
    """A host stopped a moment ago leaves TIME_WAIT connections; it must be able to start again."""
    import socket

    from grader.labhosts.procs import port_in_use

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its port goes to TIME_WAIT
    client.close()
    assert port_in_use(port)
    server.close()
    assert not port_in_use(port)
