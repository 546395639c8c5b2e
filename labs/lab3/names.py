"""lab3's contract names (curriculum): read by the starting state, the checks, the solution and
the collect scope."""
from grader.core.labdef import Scope

POOL, POOL_PATH = "lab3", "/var/lib/libvirt/lab3"
VM, RAW = "lab3-vm", "lab3-raw"
VM_VOLUME, RAW_VOLUME = "lab3-vm.qcow2", "lab3-raw.img"
MiB = 2**20
VM_CAPACITY, RAW_CAPACITY = 256 * MiB, 64 * MiB
DOMAINS = (VM, RAW)
#: The snapshots the student takes.
CLEAN, LIVE, BRANCH, EXTERNAL = "clean", "live-1", "branch-b", "ext-1"

#: The lab's pool and its two domains (with their snapshots), and what libvirt probes of
#: lab3-raw's disk file (an external snapshot's overlay is in no pool's list until a refresh).
SCOPE = Scope.of(pools=[POOL], domains=DOMAINS, block_info=[RAW])
