"""lab1's contract names (curriculum): read by the starting state, the checks, the solution and
the collect scope."""
from grader.core.events import Explains
from grader.core.labdef import Scope

DIR, DIR_PATH = "lab1-dir", "/var/lib/libvirt/lab1-dir"
SHARED, SHARED_PATH = "lab1-shared", "/var/lib/libvirt/lab1-shared"
ISCSI = "lab1-iscsi"
#: The volume the reference solution creates in lab1-dir (any name earns the points).
VOLUME = "lab1-disk.qcow2"
POOLS = (DIR, SHARED, ISCSI)

#: Only lab1's own pools: the grader ignores the host's other pools.
SCOPE = Scope.of(pools=POOLS, domains=())

#: What a watch (grade --watch) saw happening that explains each pool exercise: the pool's
#: lifecycle (defined, built: "created", started, stopped, deleted, undefined).
_LIFECYCLE = ("defined", "created", "started", "stopped", "deleted", "undefined")
EVENTS = (
    Explains.of("pool-dir", "pool", DIR, _LIFECYCLE),
    Explains.of("pool-netfs", "pool", SHARED, _LIFECYCLE),
    Explains.of("pool-iscsi", "pool", ISCSI, _LIFECYCLE),
)
