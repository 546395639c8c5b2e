"""Who may open a lab host: TLS with client certificates from a CA of this LAB_HOME.

A lab host's libvirtd is root. Unauthenticated TCP on 127.0.0.1 would let any local user (or
any code autograded on this machine) define a pool on /root/.ssh and upload a key; so every
lab host, light or VM, listens for TLS only and accepts only clients whose certificate this
LAB_HOME's CA signed. The CA's key and the client's key are in `pki/`, a directory only root
(the user who runs `lab hosts up`) can enter; libvirt clients find the client certificate
there through the URI (`qemu+tls://127.0.0.1:PORT/system?pkipath=<LAB_HOME>/pki`).

Why TLS rather than unix sockets in a private directory: it works the same for both kinds of
host (a VM host's libvirtd is reached through QEMU's loopback forward, which carries TCP only)
and survives a VM host being suspended and resumed; the server certificate is valid for
127.0.0.1, so clients check whom they talk to as well.

The certificates are made with `certtool` (Debian's gnutls-bin, the tool libvirt's own
documentation uses), 2048-bit RSA keys (libvirtd requires key encipherment, which ECDSA keys
lack; made in a tenth of a second, and a guest under emulation signs with one quickly), valid
from 2000 on and without an expiry: a VM host resumed with a clock still behind must not find them "not yet active".
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from grader.errors import EnvironmentProblem
from grader.labhosts.config import Settings

#: The client certificate's name: libvirtd accepts that one name only (tls_allowed_dn_list).
CLIENT_DN = "CN=kvm-storage-lab client"
#: Where a VM host's guest finds the server's files (QEMU's -fw_cfg, read by labhost-setup).
FW_CFG_PREFIX = "opt/kvm-storage-lab/"

_VALIDITY = 'expiration_days = -1\nactivation_date = "2000-01-01 00:00:00 UTC"\n'
TEMPLATES = {
    "ca": 'cn = "kvm-storage-lab CA"\nca\ncert_signing_key\n' + _VALIDITY,
    "server": ('cn = "127.0.0.1"\nip_address = "127.0.0.1"\ndns_name = "localhost"\n'
               "tls_www_server\nsigning_key\nencryption_key\n" + _VALIDITY),
    "client": ('cn = "kvm-storage-lab client"\ntls_www_client\nsigning_key\nencryption_key\n'
               + _VALIDITY),
}
#: What a libvirt client reads from pkipath, and what a libvirtd serves with.
FILES = ("cacert.pem", "clientcert.pem", "clientkey.pem", "servercert.pem", "serverkey.pem")


def pki_dir(settings: Settings) -> Path:
    return settings.pki_dir


def ready(settings: Settings) -> bool:
    return all((pki_dir(settings) / f).is_file() for f in FILES)


def ensure(settings: Settings) -> Path:
    """This LAB_HOME's CA and certificates, made once (kept across `down --purge`: URIs and
    saved VM states stay valid); the directory is root's alone."""
    folder = pki_dir(settings)
    if ready(settings):
        folder.chmod(0o700)
        return folder
    if shutil.which("certtool") is None:
        raise EnvironmentProblem("certtool not found: install the Debian package gnutls-bin "
                                 "(bash scripts/install.sh does)")
    settings.home.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".pki-", dir=settings.home))   # 0700 from the start
    try:
        for name, text in TEMPLATES.items():
            (work / f"{name}.info").write_text(text)
        key = {"ca": "cakey.pem", "server": "serverkey.pem", "client": "clientkey.pem"}
        for name in ("ca", "server", "client"):
            _certtool(work, "--generate-privkey", "--key-type=rsa", "--bits=2048",
                      "--outfile", key[name])
        _certtool(work, "--generate-self-signed", "--load-privkey", "cakey.pem",
                  "--template", "ca.info", "--outfile", "cacert.pem")
        for name in ("server", "client"):
            _certtool(work, "--generate-certificate", "--load-privkey", key[name],
                      "--load-ca-certificate", "cacert.pem", "--load-ca-privkey", "cakey.pem",
                      "--template", f"{name}.info", "--outfile", f"{name}cert.pem")
        for path in work.iterdir():
            path.chmod(0o600)
        shutil.rmtree(folder, ignore_errors=True)
        os.rename(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def _certtool(cwd: Path, *args: str) -> None:
    done = subprocess.run(["certtool", *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise EnvironmentProblem(f"certtool {args[0]} failed: {why}")


def fingerprint(settings: Settings) -> str:
    """Names this LAB_HOME's CA: a VM host's saved state carries the certificates it booted
    with, so a state saved under another CA must not be resumed."""
    return hashlib.sha256((pki_dir(settings) / "cacert.pem").read_bytes()).hexdigest()[:16]


def libvirtd_tls_conf(settings: Settings) -> list[str]:
    """libvirtd.conf lines of a light host: this LAB_HOME's server certificate, our client only."""
    folder = pki_dir(settings)
    return [f'ca_file = "{folder / "cacert.pem"}"',
            f'cert_file = "{folder / "servercert.pem"}"',
            f'key_file = "{folder / "serverkey.pem"}"',
            f'tls_allowed_dn_list = ["{CLIENT_DN}"]']


def fw_cfg_args(settings: Settings) -> list[str]:
    """QEMU arguments handing a VM host's guest the CA and the server certificate and key."""
    folder = pki_dir(settings)
    args = []
    for name in ("cacert.pem", "servercert.pem", "serverkey.pem"):
        args += ["-fw_cfg", f"name={FW_CFG_PREFIX}{name},file={folder / name}"]
    return args
