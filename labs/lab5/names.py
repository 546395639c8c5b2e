"""lab5's contract names (curriculum): read by the starting state, the checks, the solution and
the collect scope."""
from grader.core.events import Explains
from grader.core.labdef import Scope

#: The three pools: a partitioned disk, an LVM volume group, a ZFS pool.
DISK, VG, ZFS = "lab5-disk", "lab5-vg", "lab5-zfs"
POOLS = (DISK, VG, ZFS)
#: The LVM volume group behind pool lab5-vg, and the zpool behind lab5-zfs (same names).
VG_NAME, ZPOOL = VG, ZFS
#: The volumes: a logical volume, its LVM snapshot, and a zvol.
DATA, SNAP, ZVOL = "data", "data-snap", "vol1"
MiB = 2**20
DATA_CAPACITY = 256 * MiB
#: The copy-on-write space the reference solution gives data-snap, and vol1's size.
SNAP_COW, ZVOL_CAPACITY = 64 * MiB, 128 * MiB
#: Where lab5's spare disks are when LAB_DISKS does not say (VM hosts: `lab hosts up --vm`).
DEFAULT_DISKS = ("/dev/vdb", "/dev/vdc", "/dev/vdd")

#: Only lab5's own pools: the grader ignores the host's other pools.
SCOPE = Scope.of(pools=POOLS, domains=())

#: What a watch (grade --watch) saw happening that explains each pool exercise: its lifecycle.
_LIFECYCLE = ("defined", "created", "started", "stopped", "deleted", "undefined")
EVENTS = (
    Explains.of("pool-disk", "pool", DISK, _LIFECYCLE),
    Explains.of("pool-logical", "pool", VG, _LIFECYCLE),
    Explains.of("pool-zfs", "pool", ZFS, _LIFECYCLE),
)
