"""Events seen by a watch (issue 18, item 4): libvirt's events as plain records, each lab's table
of which events explain which exercise, a migration told once, a flood capped; and the class at
a glance by misconception (item 5): how many students each feedback message holds, with the
roster's names, in the class report and the live page."""
from __future__ import annotations

import base64
import json
import re
import time
from types import SimpleNamespace

import libvirt
import pytest

from classhelp import make_class
from grader import grading, render
from grader.classroom import roster
from grader.core import labdef, misconceptions
from grader.core.events import Event, Explains, StudentEvents, seen
from grader.core.labdef import Scope
from grader.core.results import LabRun
from grader.core.timeline import Timeline
from grader.reading import connection
from grader.reading.events import EventListener
from grader.render import seen as seen_text
from grader.render import watchpage
from grader.render.charts import curves_svg
from toyhelp import run as run_command

LAB3, LAB4 = labdef.load("lab3"), labdef.load("lab4")
T0 = 1_700_000_000


def t(lab, lang="en"):
    return lambda key, **p: lab.catalog.text(key, lang, **p)


@pytest.fixture(autouse=True)
def _utc(utc):
    """Times of day read the same on every machine (conftest's `utc`)."""


# --- each lab says which events explain which exercise --------------------------------------------

def test_a_labs_table_is_checked_when_it_is_loaded():
    with pytest.raises(RuntimeError, match="kind 'volume' is not one of"):
        Explains.of("x", "volume", None, ("created",))
    with pytest.raises(RuntimeError, match=r"pool events \['migrated'\] are not among"):
        Explains.of("x", "pool", "p", ("started", "migrated"))
    names = SimpleNamespace(EVENTS=(Explains.of("no-such", "pool", "p", "started"),))
    with pytest.raises(RuntimeError, match="EVENTS names exercise 'no-such'"):
        labdef._explains(names, "lab9", LAB4.exercises)
    with pytest.raises(RuntimeError, match="use Explains.of"):
        labdef._explains(SimpleNamespace(EVENTS=("pool started",)), "lab9", LAB4.exercises)
    assert {line.exercise for line in LAB4.explains} == {"cold-migrate", "shared-pool", "live-migrate"}
    assert labdef.load("lab2").explains == ()            # a lab without a table: events explain nothing


def ev(role, kind, name, event, detail="", at=0, student="ana"):
    return Event(student, role, kind, name, event, detail, T0 + at)


#: lab4's live migration as the solution makes it, as libvirt delivered it (trust-facts §6), in
#: the order the two hosts' events reached a watch; then a forged one's: a fresh start on B.
MIGRATION = [ev("B", "domain", "lab4-live", "started", "migrated", 10),
             ev("B", "domain", "lab4-live", "defined", "added", 10),
             ev("A", "domain", "lab4-live", "suspended", "migrated", 11),
             ev("B", "domain", "lab4-live", "resumed", "migrated", 11),
             ev("A", "domain", "lab4-live", "stopped", "migrated", 11),
             ev("A", "domain", "lab4-live", "job-completed", "migration-out", 11),
             ev("A", "domain", "lab4-live", "undefined", "removed", 12),
             ev("B", "pool", "lab4-shared", "started", "", 5)]


def test_a_migration_seen_on_both_hosts_is_told_once_as_the_issue_says():
    lines = [seen_text.line(t(LAB4), s) for s in seen(LAB4.explains, "live-migrate", MIGRATION)]
    assert lines == ["lab4-live: migrated A → B live at 22:13:30",
                     "lab4-live on B: defined (added) at 22:13:30",
                     "lab4-live on A: undefined (removed) at 22:13:32"]
    assert [seen_text.line(t(LAB4), s) for s in seen(LAB4.explains, "shared-pool", MIGRATION)] == [
        "lab4-shared on B: started at 22:13:25"]                     # B's pool, not the domain's
    assert seen(LAB4.explains, "cold-migrate", MIGRATION) == []      # lab4-live explains nothing there
    spanish = seen_text.line(t(LAB4, "es"), seen(LAB4.explains, "live-migrate", MIGRATION)[0])
    assert spanish == "lab4-live: migrada en caliente de A a B a las 22:13:30"


def test_a_migration_there_and_back_is_two_migrations():
    back = [ev("A", "domain", "lab4-live", "started", "migrated", 60), ev("B", "domain", "lab4-live", "stopped", "migrated", 61),
            ev("B", "domain", "lab4-live", "job-completed", "migration-out", 61)]
    lines = [seen_text.line(t(LAB4), s) for s in seen(LAB4.explains, "live-migrate", MIGRATION + back)]
    assert lines == ["lab4-live: migrated A → B live at 22:13:30", "lab4-live on B: defined (added) at 22:13:30",
                     "lab4-live on A: undefined (removed) at 22:13:32", "lab4-live: migrated B → A live at 22:14:20"]
    later = [ev("B", "domain", "lab4-live", "started", "migrated", 1000)]
    assert len(seen(LAB4.explains, "live-migrate", MIGRATION + later)) == 4    # 16 minutes later: another one


def test_half_a_migration_and_a_forged_one_read_as_what_they_are():
    only_b = [e for e in MIGRATION if e.role == "B"]
    assert seen_text.line(t(LAB4), seen(LAB4.explains, "live-migrate", only_b)[0]) == \
        "lab4-live: migrated live into B at 22:13:30"
    only_a = [e for e in MIGRATION if e.role == "A"]
    assert seen_text.line(t(LAB4), seen(LAB4.explains, "live-migrate", only_a)[0]) == \
        "lab4-live: migrated out of A at 22:13:31"
    forged = [ev("A", "domain", "lab4-live", "stopped", "destroyed", 1), ev("B", "domain", "lab4-live", "started", "booted", 2),
              ev("B", "domain", "lab4-live", "metadata-changed", "https://kvm-storage-lab.example.org/xmlns/live/1.0", 3)]
    assert [seen_text.line(t(LAB4), s) for s in seen(LAB4.explains, "live-migrate", forged)] == [
        "lab4-live on A: stopped (destroyed) at 22:13:21", "lab4-live on B: started (booted) at 22:13:22",
        "lab4-live on B: metadata-changed (https://kvm-storage-lab.example.org/xmlns/live/1.0) at 22:13:23"]


def test_a_student_keeps_a_bounded_list_with_repeats_counted():
    kept = StudentEvents(keep=5)
    for i in range(1000):                                 # a pool refreshed in a loop: one record
        kept.add(ev("A", "pool", "lab3", "refreshed", at=i))
    assert len(kept.events) == 1 and kept.events[0].count == 1000 and kept.events[0].last == T0 + 999
    for i in range(20):                                    # 20 different things: the latest 5 kept
        kept.add(ev("A", "domain", f"d{i}", "started", "booted", at=2000 + i))
    assert [e.object for e in kept.events] == ["d15", "d16", "d17", "d18", "d19"] and kept.dropped == 16


def test_timeline_json_keeps_each_students_events_and_reads_them_back():
    timeline = Timeline(["ana", "ben"], ["live-migrate"], T0)
    timeline.record(MIGRATION + [ev("A", "pool", "p", "refreshed", at=20, student="ben")] * 3, {"ben": 12})
    data = json.loads(json.dumps(timeline.to_dict()))
    assert set(data) == {"started", "polls", "students", "events"}
    assert data["events"]["ben"] == {"seen": [{"role": "A", "kind": "pool", "object": "p", "event": "refreshed",
                                               "detail": "", "at": "2023-11-14T22:13:40+00:00", "count": 3,
                                               "last": "2023-11-14T22:13:40+00:00"}], "dropped": 12}
    assert data["events"]["ana"]["seen"][0] == {"role": "B", "kind": "domain", "object": "lab4-live",
                                                "event": "started", "detail": "migrated",
                                                "at": "2023-11-14T22:13:30+00:00"}
    again = Timeline.from_dict(data)
    assert again.events_of("ana") == timeline.events_of("ana") and again.events["ben"].dropped == 12
    assert again.events_of("ben")[0].count == 3


# --- listening, read-only, on libvirt's test driver ------------------------------------------------

@pytest.fixture
def default_host():
    """test:///default, shared by the connections of this process: a read-write one acts as the
    student, the read-only one is the watch's."""
    connection.ensure_event_loop()
    student, watched = libvirt.open("test:///default"), libvirt.openReadOnly("test:///default")
    yield student, watched
    for conn in (watched, student):
        conn.close()


def wait_for(condition, seconds=20.0):     # a busy machine (VM hosts beside) may be slow
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_the_listener_records_what_a_read_only_connection_is_told_within_the_labs_scope(default_host):
    student, watched = default_host
    listener = EventListener({"test:///default": [("ana", "A")]}, Scope.of(pools=["nothing"], domains=["test"]))
    assert listener.subscribe("test:///default", watched) == 6   # lifecycle, job, block job, metadata; pools x2
    dom = student.lookupByName("test")
    dom.suspend()
    dom.resume()
    student.storagePoolLookupByName("default-pool").refresh(0)  # out of scope: not kept
    dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, "<x/>", "x", "https://e.org/\x1b[2J" + "x" * 5000,
                    libvirt.VIR_DOMAIN_AFFECT_LIVE)
    heard = []
    wait_for(lambda: heard.extend(listener.drain()[0]) or len(heard) >= 3)
    assert [(e.student, e.role, e.kind, e.object, e.event, e.detail[:16]) for e in heard] == [
        ("ana", "A", "domain", "test", "suspended", "paused"), ("ana", "A", "domain", "test", "resumed", "unpaused"),
        ("ana", "A", "domain", "test", "metadata-changed", "https://e.org/\x1b[")]
    assert len(heard[2].detail) == 200                      # host text is cut when it is recorded


def test_a_flooding_host_is_capped_and_then_no_longer_listened_to(default_host):
    student, watched = default_host
    listener = EventListener({"test:///default": [("ana", "A"), ("ben", "A")]}, Scope.of(), flood=50)
    listener.subscribe("test:///default", watched)
    dom = student.lookupByName("test")
    for _ in range(150):
        dom.suspend()
        dom.resume()
    wait_for(lambda: listener._dropped["ana"] >= 250)
    events, dropped = listener.drain()
    assert len(events) == 2 * 50 and dropped == {"ana": 250, "ben": 250}   # both students share the host
    time.sleep(0.3)                                          # unsubscribed in the background
    dom.suspend()
    dom.resume()
    time.sleep(0.3)
    assert listener.drain() == ([], {})                      # not listened to any more
    assert listener.subscribe("test:///default", watched) == 6   # a reconnect listens again
    dom.suspend()
    wait_for(lambda: listener._queue)
    assert [e.event for e in listener.drain()[0]] == ["suspended", "suspended"]
    dom.resume()


def test_a_reconnected_host_is_subscribed_again():
    """The cache calls its hook with every new connection: the first, and the one that replaces
    a connection libvirt dropped; a hook that fails does not fail the read."""
    from grader.reading.batch import ConnectionCache
    from grader.reading.limits import Limits

    opened = []
    cache = ConnectionCache(on_open=lambda uri, conn: opened.append(conn))
    first = cache.get("test:///default", Limits())
    assert cache.get("test:///default", Limits()) is first and opened == [first]
    first.close()                                            # dropped: the next read reconnects
    second = cache.get("test:///default", Limits())
    assert second is not first and opened == [first, second]
    cache.close()
    failing = ConnectionCache(on_open=lambda uri, conn: 1 / 0)
    assert failing.get("test:///default", Limits()) is not None
    failing.close()


def test_nothing_a_host_sends_raises_into_libvirts_event_loop():
    listener = EventListener({"u": [("ana", "A")]}, Scope.of())

    class Broken:
        def name(self):
            raise libvirt.libvirtError("gone")

    listener._lifecycle(None, Broken(), 2, 1, "u")
    listener._job(None, Broken(), "not a dict", "u")
    listener._block_job(None, Broken(), "vda", 99, 99, "u")
    listener._pool(None, Broken(), 99, 0, "u")
    listener._lifecycle(None, SimpleNamespace(name=lambda: "d"), 99, 42, "u")   # a newer libvirt's event
    assert [(e.event, e.detail) for e in listener.drain()[0]] == [("#99", "#42")]


# --- the class at a glance, by misconception --------------------------------------------------------

STATES = ["right", "clean-running", "clean-running", "revert-skipped", "live-disk-only", "untouched"]


@pytest.fixture
def sim_class(tmp_path):
    """A simulated lab3 class in known wrong states, graded; the roster names some of them."""
    path = make_class(tmp_path, STATES)
    text = path.read_text().splitlines()
    text[0] += ",name"
    names = ["Ana", "Bea Ruiz", "", "Carla <b>Díaz</b>", "", ""]
    path.write_text("\n".join([text[0]] + [f"{line},{name}" for line, name in zip(text[1:], names)]) + "\n")
    entries = roster.load(path, LAB3.roles).entries
    results = grading.grade_many(LAB3, entries, lang="en")
    return path, entries, LabRun("lab3", 10, "en", results)


def test_the_messages_that_hold_the_class_are_counted_per_exercise(sim_class):
    _, _, run = sim_class
    by = misconceptions.held(run.results, [e.id for e in LAB3.exercises])
    assert [(h.key, h.students) for h in by["snap-offline"]] == [
        ("clean-not-shutoff", ("s1-clean-running", "s2-clean-running")), ("snapshot-missing", ("s5-untouched",))]
    assert [(h.key, h.count) for h in by["snap-revert"]] == [("revert-skipped", 1), ("snapshot-missing", 1)]
    assert [(h.key, h.count) for h in by["snap-live"]] == [("live-no-memory", 1), ("snapshot-missing", 1)]
    assert misconceptions.top(by).key == "clean-not-shutoff"
    assert misconceptions.gist(LAB3.catalog, "clean-not-shutoff", "en") == \
        "'clean' was taken while lab3-vm was …, not shut off."
    assert misconceptions.gist(LAB3.catalog, "revert-skipped", "es").startswith("'branch-b' cuelga de 'live-1'")


def test_the_class_report_shows_the_top_mistake_with_the_rosters_names(sim_class):
    _, entries, run = sim_class
    names = {e.student: e.name for e in entries if e.name}
    page = render.render("html", render.Report(run, LAB3, names=names))
    section = page.split('id="misconceptions"')[1].split("<h2")[0]
    assert "The class&#x27;s top mistake: snap-offline, 2 of 6 students: &#x27;clean&#x27; was taken while" in section
    row = next(r for r in section.split("<tr>") if "clean-not-shutoff" in r)
    assert '<td class="num">2</td>' in row and "Bea Ruiz, s2-clean-running" in row   # a name, an id
    assert "Carla &lt;b&gt;Díaz&lt;/b&gt;" in page and "<b>Díaz" not in page
    anonymous = render.render("html", render.Report(run, LAB3, names=names, anonymous=True))
    assert "#2, #3" in anonymous and "Bea" not in anonymous and "s2-clean-running" not in anonymous
    assert "test://" not in anonymous                                     # nor their hosts
    copied = LabRun("lab3", 10, "en", run.results, [{"students": ["s0-right", "s1-clean-running"],
                                                      "reason": "same host UUID (s0-right, s1-clean-running)"}])
    assert "same host UUID" in render.render("html", render.Report(copied, LAB3, names=names))
    assert "same host UUID" not in render.render("html", render.Report(copied, LAB3, names=names, anonymous=True))
    spanish = render.render("html", render.Report(LabRun("lab3", 10, "es", run.results), LAB3, names=names))
    assert "El error más común de la clase: snap-offline, 2 de 6" in spanish


def test_the_live_page_shows_the_counts_names_and_what_its_time_axis_counts(sim_class):
    _, entries, run = sim_class
    names = {e.student: e.name for e in entries}
    timeline = Timeline([r.student for r in run.results], [e.id for e in LAB3.exercises], T0)
    timeline.update(run.results, T0 + 60)
    timeline.record([ev("A", "domain", "lab3-vm", "started", "booted", 30, student="s1-clean-running")])
    results = {r.student: r for r in run.results}
    page = watchpage.page(LAB3, timeline, results, "en", 10, T0 + 90, names=names)
    held = page.split('id="held"')[1].split("</table>")[0]
    assert re.search(r'<td class="num">2</td><td>&#x27;clean&#x27; was taken while lab3-vm was …, not shut off\.'
                     r' <code class="key">clean-not-shutoff</code></td><td>Bea Ruiz, s2-clean-running</td>', held)
    assert "Ana" in page and "Bea Ruiz" in page
    assert 'title="lab3-vm on A: started (booted) at 22:13:50"' in page       # the cell explains itself
    assert "Bea Ruiz · snap-offline · lab3-vm on A: started (booted) at 22:13:50" in page
    svg = base64.b64decode(re.search(r'base64,([^"]+)"', page).group(1)).decode()
    assert "minutes since the watch started" in svg and "students" in svg
    anonymous = watchpage.page(LAB3, timeline, results, "en", 10, T0 + 90, anonymous=True, names=names)
    assert "#2, #3" in anonymous and "Bea" not in anonymous and "s2-clean-running" not in anonymous
    assert "#2 · snap-offline" in anonymous
    spanish = base64.b64decode(re.search(r'base64,([^"]+)"', watchpage.page(
        LAB3, timeline, results, "es", 10, T0 + 90)).group(1)).decode()
    assert "minutos desde que empezó la observación" in spanish


def test_a_long_list_of_names_on_the_class_screen_is_cut():
    assert watchpage.who([f"#{i}" for i in range(1, 31)]) == ", ".join(f"#{i}" for i in range(1, 13)) + ", … (+18)"
    assert watchpage.who(["Ana", "Bea"]) == "Ana, Bea"


def test_the_report_chart_says_what_its_time_axis_counts():
    timeline = Timeline(["ana"], ["x"], T0)
    svg = base64.b64decode(curves_svg(timeline, "students", "minutes since the watch started")).decode()
    assert "minutes since the watch started</text>" in svg


def test_anonymous_goes_with_the_watch_or_the_html_report(tmp_path):
    from grader.cli.main import grade
    from toyhelp import host

    roster_path = tmp_path / "roster.csv"
    roster_path.write_text(f"student,A,name\nana,{host('right')},Ana García\nben,{host('untouched')},\n")
    status, _, err = run_command(grade, "toy", "--roster", roster_path, "--anonymous", "--out", tmp_path / "runs")
    assert status == 2 and "--anonymous hides names where people see them" in err
    status, out, err = run_command(grade, "toy", "--roster", roster_path, "--format", "html", "--out", tmp_path / "runs")
    assert status == 0, err
    assert "Ana García" in out and ">ben<" in out
    status, out, err = run_command(grade, "toy", "--roster", roster_path, "--format", "html", "--anonymous",
                                   "--out", tmp_path / "runs")
    assert status == 0, err
    assert "#1" in out and "#2" in out and "Ana" not in out and ">ben<" not in out
    run_dirs = sorted((tmp_path / "runs").iterdir())
    report = (run_dirs[-1] / "report.html").read_text()
    assert "Ana García" in report                         # the archive is the instructor's: named
    status, out, _ = run_command(grade, "toy", "--from-evidence", run_dirs[-1], "--format", "html")
    assert status == 0 and "Ana García" in out            # names come back with a regraded run


def test_a_watch_subscribes_the_connections_it_keeps_and_records_events_with_each_poll(default_host):
    from dataclasses import replace

    from grader.classroom.watch import Watch
    from grader.reading.limits import Limits
    from grader.reading.student import Target

    student, _ = default_host
    lab = replace(LAB3, scope=Scope.of())                    # test:///default's domain is "test"
    watch = Watch(lab, [Target("ana", {"A": "test:///default"})], Limits(jobs=2, timeout=10), "en")
    try:
        watch.poll()
        dom = student.lookupByName("test")
        dom.suspend()
        dom.resume()
        wait_for(lambda: len(watch.events._queue) >= 2)
        watch.poll()
        assert [(e.object, e.event, e.detail) for e in watch.timeline.events_of("ana")] == [
            ("test", "suspended", "paused"), ("test", "resumed", "unpaused")]
    finally:
        watch.close()
