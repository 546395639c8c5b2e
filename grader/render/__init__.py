"""Renderers: a LabRun in, text out. No libvirt, no grading logic."""
