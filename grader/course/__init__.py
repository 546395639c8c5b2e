"""The course text and its tests: the bilingual source rendered to course.md and course.es.md
(coursetext, bilingual), the glossary (glossary), and every example run on lab hosts (coursetest)."""
