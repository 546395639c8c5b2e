"""`lab doctor`: is a classroom host ready for the labs? Read what the hosts offer (hostfacts,
read-only), then judge it against what each lab needs (judge, from each lab's [needs])."""
