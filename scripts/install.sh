#!/usr/bin/env bash
# Install everything this project needs on a fresh Debian 12 machine (root, no systemd needed):
# the Debian packages lab hosts run, /dev/kvm access for QEMU, and a virtual environment (.venv)
# with this project and its test dependencies. Idempotent: a second run changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils   # libvirtd, QEMU, virsh
  libvirt-daemon-driver-storage-iscsi-direct qemu-block-extra        # iscsi-direct pools, libiscsi
  glusterfs-server glusterfs-client tgt                              # the shared storage
  ovmf seabios                                                       # firmware for the domains
  libvirt-dev pkg-config gcc python3-dev python3-venv                # building libvirt-python
  util-linux mount                                                   # unshare, setsid, taskset
  gnutls-bin                                                         # certtool: lab hosts' TLS CA
  chromium chromium-driver                                           # tests/test_browser.py
  openssh-server netcat-openbsd                                      # grading over qemu+ssh (tests)
  mmdebstrap vde2 e2fsprogs openssh-client                           # VM hosts: image, link, ssh
  fdisk dosfstools mtools syslinux syslinux-common systemd-boot-efi  # lab image build --out (classroom)
  bubblewrap                # nbgrader autograde runs students' kernels in a bwrap sandbox (refuses without)
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "error: Debian packages missing (${missing[*]}): run this script as root" >&2
    exit 2
  fi
  echo "install.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# QEMU runs as libvirt-qemu (group kvm): a fresh /dev/kvm is root:root 0600, which forces TCG.
if [ -c /dev/kvm ] && [ "$(id -u)" = 0 ]; then
  chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi

if [ ! -x .venv/bin/python ]; then
  echo "install.sh: creating .venv"
  python3 -m venv .venv
fi
# Reinstall only when the project's dependencies changed since the last successful install.
stamp=.venv/.kvm-storage-lab-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || ! .venv/bin/python -c 'import grader, libvirt' 2>/dev/null; then
  echo "install.sh: installing the project into .venv"
  .venv/bin/pip install -q -e '.[test]'
  touch "$stamp"
fi
