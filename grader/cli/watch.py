"""`grade LAB [--roster R] --watch [--interval S] [--serve [HOST:]PORT] [--anonymous]`: the class
(or one student, for self-study) live, read-only, until Ctrl-C or SIGTERM.

On a terminal: a live board. Not on a terminal: one line per change, for logs. A class watch
writes its run directory on stop (the last poll's results, every report, timeline.json).
"""
from __future__ import annotations

import signal
import threading
import time

from grader.cli.environment import Environment
from grader.cli.exits import ExitStatus, graded
from grader.errors import UsageError


def watch(env: Environment, lab, targets, lang: str, options, limits, interval: float,
          serve: str | None, anonymous: bool, archive_to=None, meta: dict | None = None,
          emails: dict | None = None) -> ExitStatus:
    from rich.console import Console
    from rich.live import Live

    from grader.classroom.serve import PageServer, parse_address
    from grader.classroom.watch import Watch, archive_watch, loop
    from grader.render import live, watchpage

    if interval < 1:
        raise UsageError(f"--interval {interval:g}: poll at most once a second (e.g. --interval 10)")
    watcher = Watch(lab, targets, limits, lang, options.only, expected=options.expected)
    real = {t.student: getattr(t, "name", None) for t in targets}    # the roster's `name` column
    label = live.names([t.student for t in targets], anonymous, real)
    latest = {"page": "", "state": {}}
    server = None
    if serve:
        server = PageServer(parse_address(serve), lambda: latest["page"], lambda: latest["state"]).start()
        env.err(f"serving the class page on {server.url} (read-only)")
    stop = threading.Event()

    def on_term(_signum, _frame):
        stop.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    console = Console(file=env.stdout, force_terminal=True, width=env.columns, _environ={}) if env.stdout_is_terminal else None
    view = Live(console=console, auto_refresh=False, transient=False) if console else None

    def on_poll(changes):
        now = time.time()
        with watcher.lock:
            latest["page"] = watchpage.page(lab, watcher.timeline, watcher.results, lang, interval, now, anonymous,
                                           real)
            latest["state"] = {"polls": watcher.timeline.polls, "passed": watcher.timeline.passed_counts(),
                               "students": len(watcher.timeline.students)}
            if view is not None:
                view.update(live.board(lab, watcher.timeline, watcher.results, lang, now, anonymous, real), refresh=True)
        if view is None:
            for change in changes:
                env.out(live.change_line(change, anonymous, label))

    try:
        if view is not None:
            view.start()
        try:
            loop(watcher, interval, on_poll, stop)
        except KeyboardInterrupt:
            pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if view is not None:
            view.stop()
        if server is not None:
            server.stop()
        watcher.close()
    run = watcher.run()
    if archive_to is None:
        return graded(run.all_graded)
    run, problems = archive_watch(watcher, archive_to, meta or {}, emails or {}, real)
    counts = {status: sum(r.status == status for r in run.results) for status in ("graded", "unreachable", "error")}
    env.err(f"{lab.id}: watched {watcher.timeline.polls} poll(s); {counts['graded']} graded, "
            f"{counts['unreachable']} unreachable, {counts['error']} error(s) of {len(targets)}")
    env.err(f"run archived in {archive_to.path} (timeline.json)")
    for problem in problems:
        env.err(f"error: {problem}")
    return ExitStatus.USAGE if problems else graded(run.all_graded)
