"""lab4's contract names (curriculum): read by the starting state, the checks, the solution and
the collect scope."""
from grader.core.events import Explains
from grader.core.labdef import Scope

MiB = 2**20

LOCAL_POOL, LOCAL_PATH = "lab4-local", "/var/lib/libvirt/lab4-local"
SHARED_POOL, SHARED_PATH = "lab4-shared", "/var/lib/libvirt/lab4-shared"
COLD, LIVE = "lab4-cold", "lab4-live"
COLD_VOLUME, LIVE_VOLUME = "lab4-cold.qcow2", "lab4-live.qcow2"
COLD_CAPACITY = LIVE_CAPACITY = 128 * MiB
#: The optional third path of the notebook: live migration copying a local disk.
COPY, COPY_VOLUME = "lab4-copy", "lab4-copy.qcow2"
#: The notebook's optional live migration over iSCSI: a domain on a LUN, the pool it may define.
LUN_DOMAIN, ISCSI_POOL = "lab4-lun", "lab4-iscsi"
#: Every domain the lab or its notebook creates.
DOMAINS = (COLD, LIVE, COPY, LUN_DOMAIN)
#: What lab4 owns on a shared export: nothing else there is ever deleted.
VOLUME_PREFIX = "lab4-"
#: Pool types whose storage other hosts can see: a disk there was not copied to B.
SHARED_POOL_TYPES = frozenset({"netfs", "gluster", "iscsi", "iscsi-direct", "rbd", "sheepdog",
                               "vstorage", "mpath", "scsi"})

#: lab4's own namespace for the live-only marker (libvirt metadata is one element per URI).
LIVE_NS = "https://kvm-storage-lab.example.org/xmlns/live/1.0"

#: What the grader reads from both hosts. Every pool, since the cold copy may land in any local
#: pool of B; host facts to tell two hosts from one given twice; completed-job statistics (read
#: with the keep-completed flag), which explain a domain started again after it arrived; what
#: libvirt probes of lab4-cold's disk file, copied in but maybe not yet in its pool's list.
SCOPE = Scope.of(pools="*", domains=[COLD, LIVE], host_facts=True, job_stats=True,
                 block_info=[COLD])

#: What a watch (grade --watch) saw happening that explains each exercise: the cold domain
#: arriving on B and leaving A, B's shared pool, and the live domain's migration (its halves on
#: A and B, the job that completed on A, the definitions it left) or whatever took its place (a
#: fresh start on B, a hand-set live marker: a metadata change).
EVENTS = (
    Explains.of("cold-migrate", "domain", COLD, ("defined", "undefined", "started", "stopped")),
    Explains.of("shared-pool", "pool", SHARED_POOL, ("defined", "started", "stopped", "undefined"), roles="B"),
    Explains.of("live-migrate", "domain", LIVE, ("started", "stopped", "suspended/migrated", "resumed/migrated",
                                                 "defined", "undefined", "job-completed", "metadata-changed")),
)
