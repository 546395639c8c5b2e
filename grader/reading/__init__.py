"""Reading hosts: reach a host (connection), read its state (collect), one student's hosts
(student), many students at once, each within its deadline (batch). The only grading code that
imports libvirt, and it opens read-only."""
