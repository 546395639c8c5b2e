"""lab3's starting state: pool `lab3` with a qcow2 and a raw image, two shut-off domains."""
from grader import provision
from grader.provision import MiB

POOL, POOL_PATH = "lab3", "/var/lib/libvirt/lab3"
DOMAINS = ("lab3-vm", "lab3-raw")


def start(ctx) -> None:
    conn = ctx.conn("A")
    finish(ctx)
    pool = provision.define_pool(conn, POOL, "dir", POOL_PATH)
    vm_disk = provision.create_volume(pool, "lab3-vm.qcow2", "qcow2", 256 * MiB)
    raw_disk = provision.create_volume(pool, "lab3-raw.img", "raw", 64 * MiB)
    provision.define_domain(conn, "lab3-vm", ctx.lab, [{"format": "qcow2", "path": vm_disk.path()}])
    provision.define_domain(conn, "lab3-raw", ctx.lab, [{"format": "raw", "path": raw_disk.path()}])


def finish(ctx) -> None:
    conn = ctx.conn("A")
    for name in DOMAINS:
        provision.remove_domain(conn, name)
    provision.remove_pool(conn, POOL)
