"""A class: who is in it (roster, course.toml), grading it into a run directory (session,
archive), the gradebook, and progress on the terminal."""
