"""lab2's starting state: an empty, active directory pool `lab2` (starting again empties it)."""
from grader import provision

from .names import POOL, POOL_PATH


def start(ctx) -> None:
    provision.define_pool(ctx.conn("A"), POOL, "dir", POOL_PATH)


def finish(ctx) -> None:
    provision.remove_pool(ctx.conn("A"), POOL)
