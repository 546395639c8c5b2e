"""The run archive: one directory per grading run, with every student's evidence and result.

    runs/lab3-20250114-101500/
        run.json                  lab, language, limits, roster, state (running|complete|interrupted)
        evidence/<student>.json   what was read from the student's hosts (regrades offline)
        results/<student>.json    the student's result (the JSON contract, one student)
        feedback/<student>.md     what the student may read: their own feedback only
        report.html  grades.csv  results.json  summary.txt

Every file is written beside its final name and renamed into place (`atomic_write`), so Ctrl-C,
a crash or a full disk leaves each file either complete or absent, never half-written. Evidence,
results and feedback are written as each student finishes (`StudentWriter`, in a thread of its
own); the reports when the run ends.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from grader.core.evidence import BadEvidence, Evidence
from grader.core.results import ERROR, StudentResult
from grader.core.text import file_name
from grader.errors import EnvironmentProblem, UsageError, one_line

RUN_FILE = "run.json"


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write to a hidden temporary file in the same directory, then rename it over `path`.

    The rename is atomic, so a reader (or a run cut short by Ctrl-C, a crash or a full disk)
    sees the old file, the new one, or none, never half of one. No fsync: it cost 3 ms per file
    (2 s for a class of 200) and guards only against a power cut, after which the run is simply
    graded again. Unbuffered, and the folder made only when it is missing: five system calls a
    file instead of eleven, for the 600 files of a class.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    raw = data.encode() if isinstance(data, str) else data
    try:
        try:
            handle = open(tmp, "wb", 0)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(tmp, "wb", 0)
        with handle:
            view = memoryview(raw)
            while view:
                view = view[handle.write(view):]
        os.replace(tmp, path)
    except OSError as err:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise EnvironmentProblem(f"cannot write {path}: {err.strerror or err}; free some space or "
                                 "choose another place with --out") from None


@dataclass
class RunDir:
    path: Path

    @property
    def evidence_dir(self) -> Path:
        return self.path / "evidence"

    @property
    def results_dir(self) -> Path:
        return self.path / "results"

    @property
    def feedback_dir(self) -> Path:
        return self.path / "feedback"

    # -- writing --
    @classmethod
    def create(cls, parent: Path, lab: str, exact: Path | None = None) -> "RunDir":
        """A new, empty run directory: `exact`, or parent/<lab>-<timestamp>[-n]."""
        try:
            if exact is not None:
                if exact.exists() and (not exact.is_dir() or any(exact.iterdir())):
                    raise UsageError(f"{exact} already exists and is not an empty directory: "
                                     "choose a new --run-dir")
                exact.mkdir(parents=True, exist_ok=True)
                return cls(exact)
            parent.mkdir(parents=True, exist_ok=True)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            for n in range(1000):
                path = parent / (f"{lab}-{stamp}" + (f"-{n}" if n else ""))
                try:
                    path.mkdir()
                    return cls(path)
                except FileExistsError:
                    continue
        except (NotADirectoryError, FileExistsError) as err:
            raise UsageError(f"cannot make a run directory at {err.filename}: a file of that name is "
                             "in the way; give --out (or --run-dir) a folder") from None
        except OSError as err:
            raise EnvironmentProblem(f"cannot make a run directory under {exact or parent}: "
                                     f"{err.strerror or err}; choose another place with --out") from None
        raise EnvironmentProblem(f"cannot create a run directory under {parent}")

    def write_meta(self, meta: dict) -> None:
        atomic_write(self.path / RUN_FILE, json.dumps(meta, indent=1, sort_keys=True))

    def write_student(self, result: StudentResult, evidence: Evidence) -> None:
        """Evidence first: a result on disk always has the evidence it came from."""
        # compact: json's C encoder only runs without indent (5x faster for a class)
        atomic_write(self.evidence_path(result.student),
                     json.dumps(evidence.to_dict(), sort_keys=True, ensure_ascii=False))
        self.write_result(result)

    def archive_student(self, result: StudentResult, evidence: Evidence,
                        own_files: "OwnFiles" = lambda result: ()) -> StudentResult:
        """Write one student's evidence, result and `own_files` (their feedback); the result to
        keep. A student whose files cannot be written gets that as their error, never the
        class: a result file (and own files) saying so, if even those can be written."""
        try:
            self.write_student(result, evidence)
            for name, text in own_files(result):
                self.write_report(name, text)
            return result
        except Exception as err:  # noqa: BLE001 - this student's problem, not the class's
            failed = StudentResult(student=result.student, hosts=result.hosts, status=ERROR,
                                   error=one_line(f"could not archive this student: {err}"),
                                   score=None, max_score=result.max_score)
            try:
                self.write_result(failed)
                for name, text in own_files(failed):
                    self.write_report(name, text)
            except Exception:  # noqa: BLE001 - the disk refuses even that: the summary still says it
                pass
            return failed

    def write_result(self, result: StudentResult) -> None:
        atomic_write(self.results_dir / f"{file_name(result.student)}.json",
                     json.dumps(result.to_dict(), indent=1, ensure_ascii=False))

    def copy_student(self, other: "RunDir", result: StudentResult) -> None:
        """A student's evidence and result from an earlier run, unchanged (a retry's kept ones)."""
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        source = other.evidence_path(result.student)
        if source.is_file():
            shutil.copyfile(source, self.evidence_path(result.student))
        self.write_result(result)

    def write_report(self, name: str, data: str | bytes) -> Path:
        path = self.path / name
        atomic_write(path, data)
        return path

    # -- reading --
    @classmethod
    def open(cls, path: Path) -> "RunDir":
        if not (path / RUN_FILE).is_file() and not (path / "evidence").is_dir():
            raise UsageError(f"{path} is not a run directory of `grade` (no {RUN_FILE}, no evidence/)")
        return cls(path)

    def meta(self) -> dict:
        try:
            return json.loads((self.path / RUN_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def evidence(self) -> list[Evidence]:
        out = []
        for path in sorted(self.evidence_dir.glob("*.json")):
            try:
                out.append(Evidence.load(path))
            except (OSError, BadEvidence) as err:
                raise UsageError(f"{path} is not an evidence file of this grader ({err})") from None
        return out

    def results(self) -> list[StudentResult]:
        out = []
        for path in sorted(self.results_dir.glob("*.json")):
            try:
                out.append(StudentResult.from_dict(json.loads(path.read_text())))
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
                raise UsageError(f"{path} is not a result file of this grader ({err}); "
                                 "grade the class again instead of retrying this run") from None
        return out

    def timeline(self):
        """The timeline of a watched run (timeline.json), or None."""
        from grader.core.timeline import Timeline

        path = self.path / "timeline.json"
        if not path.is_file():
            return None
        try:
            return Timeline.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise UsageError(f"{path} is not a timeline of this grader ({err})") from None

    def evidence_path(self, student: str) -> Path:
        return self.evidence_dir / f"{file_name(student)}.json"

    def ordered(self, results: list[StudentResult]) -> list[StudentResult]:
        """Results in the order of the run's roster (as recorded in run.json), others after."""
        order = {s: i for i, s in enumerate(self.meta().get("students", []))}
        return sorted(results, key=lambda r: (order.get(r.student, len(order)), r.student))


#: The files a run directory keeps of one student's own besides evidence and result (their
#: feedback), from their result: (name in the run directory, text) each.
OwnFiles = Callable[[StudentResult], Iterable[tuple[str, str]]]

_DONE = object()


class StudentWriter:
    """Archives each graded student in a thread of its own, in the order they are handed over.

    Writing a student's files (evidence, result, feedback: serialising, then three files) cost
    more than scoring them, and it was done by the thread that waits on hosts. Now that thread
    only hands the student over (`put`, which returns at once) and goes back to the hosts; the
    disk's system calls run beside it, without the GIL.

        with StudentWriter(rundir, own_files, on_archived) as writer:
            writer.put(result, evidence)
        writer.archived          # student -> the result to keep (an archive failure: an error)

    `on_archived(result)` is called in the writer's thread with each result as it is kept (the
    class's progress lines). Leaving the block normally waits until everything handed over is
    written. Leaving it by an exception (Ctrl-C, a crash) lets the file being written finish and
    drops the rest: every file is complete or absent, and those students have no result file
    (a --retry-unreachable run grades them again).
    """

    def __init__(self, rundir: RunDir, own_files: OwnFiles = lambda result: (),
                 on_archived: Callable[[StudentResult], None] = lambda result: None):
        self.rundir, self.own_files, self.on_archived = rundir, own_files, on_archived
        self.archived: dict[str, StudentResult] = {}
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._crash: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="archive-writer", daemon=True)

    def __enter__(self) -> "StudentWriter":
        self._thread.start()
        return self

    def put(self, result: StudentResult, evidence: Evidence) -> None:
        if self._crash is not None:
            raise self._crash
        self._queue.put((result, evidence))

    def __exit__(self, kind, err, tb) -> None:
        if kind is not None:
            self._stop.set()
        self._queue.put(_DONE)
        try:
            self._thread.join()
        except BaseException:       # Ctrl-C while waiting: stop after the file being written
            self._stop.set()
            self._thread.join()
            raise
        if self._crash is not None and kind is None:
            raise self._crash

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _DONE or self._stop.is_set():
                return
            result, evidence = item
            try:
                kept = self.rundir.archive_student(result, evidence, self.own_files)
                self.archived[kept.student] = kept
                self.on_archived(kept)
            except BaseException as err:  # noqa: BLE001 - said by the thread that handed it over
                self._crash = err
                return


def latest(parent: Path, lab: str) -> RunDir | None:
    """The newest run of `lab` under `parent` (by the time it started)."""
    runs = []
    for path in parent.glob(f"{lab}-*"):
        meta_file = path / RUN_FILE
        if meta_file.is_file():
            try:
                meta = json.loads(meta_file.read_text())
            except ValueError:
                continue
            if meta.get("lab") == lab:
                runs.append((meta.get("started", 0), path.name, path))
    return RunDir(max(runs)[2]) if runs else None

