"""lab2's contract names (curriculum): read by the starting state, the checks, the solution and
the collect scope."""
from grader.core.labdef import Scope

POOL, POOL_PATH = "lab2", "/var/lib/libvirt/lab2"
RAW, THIN, CONVERTED, OVERLAY, HUGE = (
    "disk-raw.img", "disk-thin.qcow2", "disk-converted.qcow2", "disk-overlay.qcow2", "disk-huge.qcow2")
GiB = 2**30
RAW_CAPACITY, THIN_CAPACITY = GiB, 10 * GiB

#: Only the lab's pool (and the volumes it lists).
SCOPE = Scope.of(pools=[POOL], domains=())
