"""Course tooling: the bilingual course text (coursetext) and notebooks (bilingual)."""
