"""The pure core: lab definitions, evidence, XML views, checks, scoring, results, messages.

Nothing here imports libvirt (tests/test_engine_pure.py proves it), so an archived run is
regraded and re-rendered anywhere.
"""
