"""The course's labs, one folder each (see grader/labdef.py for what a folder holds)."""
