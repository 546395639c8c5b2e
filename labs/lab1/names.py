"""lab1's contract names (curriculum): read by the starting state, the checks, the solution and
the collect scope."""
from grader.core.labdef import Scope

DIR, DIR_PATH = "lab1-dir", "/var/lib/libvirt/lab1-dir"
SHARED, SHARED_PATH = "lab1-shared", "/var/lib/libvirt/lab1-shared"
ISCSI = "lab1-iscsi"
#: The volume the reference solution creates in lab1-dir (any name earns the points).
VOLUME = "lab1-disk.qcow2"
POOLS = (DIR, SHARED, ISCSI)

#: Only lab1's own pools: the grader ignores the host's other pools.
SCOPE = Scope.of(pools=POOLS, domains=())
