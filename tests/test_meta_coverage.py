"""Coverage meta-tests, as virtinst has: what the labs and views declare, the tests exercise.

- every feedback message of every lab (and of the engine) is rendered by some test: a message
  no test produces is feedback no one has seen;
- every XML field a view declares gives a value in some test: an XPath no test reads may be
  wrong and nobody would know;
- every object a check reads is in its lab's collect scope (checked on every fixture).

The first two count what the whole session did (tests/conftest.py records it): each registers
its check with the session fixture `at_session_end`, which runs it once every test has run, in
whatever order they ran (its failure is reported at the session's last teardown). A partial run
(-k, -m, some files) skips them, saying so.
"""
from __future__ import annotations

import importlib
import json
import tomllib
from pathlib import Path

import pytest

from grader.core import labdef, xmlmodel
from grader.core.evidence import Evidence
from grader.core.i18n import ENGINE_CATALOG
from grader.core.scoring import score

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def whole_session(request, at_session_end):
    ran = {Path(item.path).name for item in request.session.items}
    every = {p.name for p in TESTS.glob("test_*.py")}
    deselected = request.config.getoption("-k") or request.config.getoption("-m")
    if every - ran or deselected:
        pytest.skip("coverage is counted over the whole suite only (run it without -k/-m or file names)")
    return at_session_end


def _feedback_keys(path: Path) -> set[str]:
    return {k for k in tomllib.loads(path.read_text()) if not k.startswith("ui-")}


def _catalogs() -> dict[str, Path]:
    """Every feedback catalog: each lab's and the engine's."""
    found = {lab.id: lab.folder / "messages.toml" for lab in labdef.DEFAULT.all()}
    assert len(found) >= 5, f"the course's labs were not found: {sorted(found)}"
    return {**found, "engine": ENGINE_CATALOG}


def test_every_feedback_message_is_produced_by_some_test(whole_session):
    catalogs = _catalogs()
    keys = {name: _feedback_keys(path) for name, path in catalogs.items()}
    assert all(keys.values()), f"a catalog with no feedback to check: {[n for n, k in keys.items() if not k]}"

    def every_message_seen(exercised) -> str | None:
        missing = {name: sorted(k - exercised["messages"]) for name, k in keys.items() if k - exercised["messages"]}
        return f"feedback no test produces (add a fixture or a test): {missing}" if missing else None

    whole_session(every_message_seen)


def _declared_fields():
    modules = [xmlmodel] + [importlib.import_module(f"{lab.package}.views")
                            for lab in labdef.DEFAULT.all() if (lab.folder / "views.py").exists()]
    for module in modules:
        for view in vars(module).values():
            if isinstance(view, type) and issubclass(view, xmlmodel.XmlView):
                for name, field in vars(view).items():
                    if isinstance(field, (xmlmodel.Field, xmlmodel.Child)):
                        yield view.__name__, name


def test_every_declared_xml_field_gives_a_value_in_some_test(whole_session):
    declared = set(_declared_fields())
    assert len(declared) > 20, f"the XML views declare almost nothing: {sorted(declared)}"

    def every_field_read(exercised) -> str | None:
        unread = sorted(declared - exercised["fields"])
        return f"XML fields no test reads a value from (test them or remove them): {unread}" if unread else None

    whole_session(every_field_read)


@pytest.mark.parametrize("lab_id", labdef.available())
def test_every_object_a_check_reads_is_in_its_labs_collect_scope(lab_id):
    """Fixtures are evidence of the lab's objects; with the lab's scope applied, a check that
    looks anywhere else raises OutOfScope and the student's result becomes an error."""
    lab = labdef.load(lab_id)
    paths = sorted((lab.folder / "fixtures").glob("*.json"))
    assert paths, f"{lab_id} has no fixtures to check (labs/{lab_id}/fixtures/capture.py captures them)"
    for path in paths:
        data = json.loads(path.read_text())
        evidence = Evidence.from_dict(data)
        for host in evidence.hosts.values():
            host.pool_scope = None if lab.scope.pools is None else sorted(lab.scope.pools)
            host.domain_scope = None if lab.scope.domains is None else sorted(lab.scope.domains)
        result = score(lab, evidence)
        assert result.status == "graded", f"{path.name}: {result.error}"
