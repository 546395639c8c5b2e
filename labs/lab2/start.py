"""lab2's starting state: an empty, active directory pool `lab2` (starting again empties it).

Only the dir pool at lab2's own directory is ever emptied: a `lab2` elsewhere is refused with
one line and keeps its files (grader.provision.Place)."""
from grader import provision

from .names import POOL, POOL_PATH

PLACES = {POOL: provision.Place("dir", POOL_PATH)}


def start(ctx) -> None:
    provision.define_pool(ctx.conn("A"), POOL, "dir", POOL_PATH)


def finish(ctx) -> None:
    provision.remove_pool(ctx.conn("A"), POOL, PLACES[POOL])
