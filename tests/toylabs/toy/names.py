"""The toy lab's names, and what the grader reads."""
from grader.core.events import Explains
from grader.core.labdef import Scope

POOL, POOL_PATH = "toy-pool", "/var/lib/libvirt/toy"
VM, SNAPSHOT = "toy-vm", "first"
VOLUME = "toy.qcow2"

SCOPE = Scope.of(pools=[POOL], domains=[VM])

#: What a watch saw that explains each exercise (grader.core.events).
EVENTS = (
    Explains.of("pool-on", "pool", POOL, ("defined", "started")),
    Explains.of("vm-snap", "domain", VM, ("started", "suspended", "resumed", "metadata-changed")),
)
