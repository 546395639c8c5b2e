"""A local user who is not root (`nobody`) trying every way into lab hosts (issue 19).

Each attempt is a real client run as nobody: virsh with the URI `lab hosts env` prints, virsh
without TLS against the same port, virsh with a CA and a client certificate nobody made (named
like ours), and libvirt-python. The tests assert that every one fails and that nothing was made.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import nobodyhelp

#: The attack of issue 19: a pool on root's .ssh, then an authorized_keys uploaded into it.
POOL = "t-nobody-ssh"


def forged_pki() -> Path:
    """A CA and a client certificate of nobody's own (the client named as ours), readable by
    anyone: what an attacker who cannot read LAB_HOME/pki would try next."""
    folder = Path(tempfile.mkdtemp(prefix="forged-pki-"))
    folder.chmod(0o755)
    templates = {"ca": 'cn = "kvm-storage-lab CA"\nca\ncert_signing_key\n',
                 "client": 'cn = "kvm-storage-lab client"\ntls_www_client\nsigning_key\n'
                           "encryption_key\n"}
    for name, text in templates.items():
        (folder / f"{name}.info").write_text(text)
    run = lambda *a: subprocess.run(["certtool", *a], cwd=folder, capture_output=True, check=True)
    run("--generate-privkey", "--bits=2048", "--outfile", "cakey.pem")
    run("--generate-privkey", "--bits=2048", "--outfile", "clientkey.pem")
    run("--generate-self-signed", "--load-privkey", "cakey.pem", "--template", "ca.info",
        "--outfile", "cacert.pem")
    run("--generate-certificate", "--load-privkey", "clientkey.pem", "--load-ca-certificate",
        "cacert.pem", "--load-ca-privkey", "cakey.pem", "--template", "client.info",
        "--outfile", "clientcert.pem")
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def raw_uris(uri: str, forged: Path) -> dict[str, str]:
    """The same host's port without our certificate: plain TCP, and TLS with forged ones
    (the client told not to check the server, so only the server's check can stop it)."""
    port = urlsplit(uri).port
    return {"plain TCP": f"qemu+tcp://127.0.0.1:{port}/system",
            "forged certificate": f"qemu+tls://127.0.0.1:{port}/system?pkipath={forged}&no_verify=1"}


def virsh_as_nobody(uri: str, *args: str, home: Path):
    return nobodyhelp.as_nobody("virsh", "-c", uri, *args, home=home, timeout=60)


def attempts(uri: str, forged: Path, home: Path) -> dict[str, subprocess.CompletedProcess]:
    """Every virsh attempt as nobody on one host: list, read-only list, define the pool."""
    done = {}
    for label, target in {"as printed": uri, **raw_uris(uri, forged)}.items():
        done[f"{label}: list"] = virsh_as_nobody(target, "list", "--all", home=home)
        done[f"{label}: read-only list"] = virsh_as_nobody(target, "-r", "list", home=home)
        done[f"{label}: pool-define-as"] = virsh_as_nobody(
            target, "pool-define-as", POOL, "dir", "--target", "/root/.ssh", home=home)
    return done


def python_as_nobody(uri: str, site: Path, home: Path):
    """libvirt-python as nobody: open read-write, define the pool."""
    script = (f"import sys; sys.path[:0] = [{str(site)!r}]\nimport libvirt\n"
              f"c = libvirt.open({uri!r})\n"
              f"c.storagePoolDefineXML(\"<pool type='dir'><name>{POOL}</name><target><path>"
              "/root/.ssh</path></target></pool>\")\nprint('DEFINED')\n")
    return nobodyhelp.as_nobody(os.path.realpath(sys.executable), "-I", "-c", script, home=home)


def refused(results: dict[str, subprocess.CompletedProcess]) -> list[str]:
    """The attempts that did not fail (should be none), with what they printed."""
    return [f"{label}: {r.stdout.strip()} {r.stderr.strip()}"
            for label, r in results.items() if r.returncode == 0 or "DEFINED" in r.stdout]
