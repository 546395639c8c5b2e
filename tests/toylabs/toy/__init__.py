"""toy: the engine's test lab (a pool and a domain with a snapshot)."""
