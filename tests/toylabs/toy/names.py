"""The toy lab's names, and what the grader reads."""
from grader.core.labdef import Scope

POOL, POOL_PATH = "toy-pool", "/var/lib/libvirt/toy"
VM, SNAPSHOT = "toy-vm", "first"
VOLUME = "toy.qcow2"

SCOPE = Scope.of(pools=[POOL], domains=[VM])
