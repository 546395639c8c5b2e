"""lab3's contract names (curriculum): read by the starting state, the checks, the solution and
the collect scope."""
from grader.core.events import Explains
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

#: What a watch (grade --watch) saw happening that explains each exercise. Taking a snapshot is
#: no event of its own: a running domain's live snapshot shows as a pause and a resume, a revert
#: as a stop (or start) "from-snapshot"; when lab3-vm ran tells whether 'clean' could be offline.
EVENTS = (
    Explains.of("snap-offline", "domain", VM, ("started", "stopped")),
    Explains.of("snap-live", "domain", VM, ("started", "suspended", "resumed")),
    Explains.of("snap-revert", "domain", VM, ("stopped/from-snapshot", "started/from-snapshot",
                                              "defined/from-snapshot", "resumed/from-snapshot",
                                              "suspended/from-snapshot")),
    Explains.of("snap-external", "domain", RAW, ("defined", "undefined", "block-job")),
)
