"""Helpers shared by the tests and the benchmarks: simulated classes on libvirt's test driver,
loopback listeners that misbehave, and the capture of check fixtures from real hosts."""
