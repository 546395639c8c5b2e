"""Property-based: whatever a host serves, the crash stays inside that student's result.

Starting from every lab's fixtures (real evidence captured from lab hosts), hypothesis mutates
what a hostile or broken host could send — text in attributes and elements, elements dropped or
repeated, bytes spliced into the XML, object names — and rosters. Each mutated student is scored
beside an intact one and the class goes through every renderer: the student's result is
`graded` or `error`, never an exception; the intact student keeps their score; no renderer
fails or lets a control character through.
"""
from __future__ import annotations

import copy
import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from grader import render
from grader.classroom import roster
from grader.core import labdef
from grader.core.evidence import Evidence
from grader.core.results import ERROR, GRADED, LabRun
from grader.core.scoring import score
from grader.errors import UsageError

FIXTURES = [(lab, json.loads(p.read_text())) for lab in labdef.DEFAULT.all()
            for p in sorted((lab.folder / "fixtures").glob("*.json"))]
#: Text a host may put in XML (XML 1.0 characters, C1 controls and bidi overrides included).
XML_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00",
                                 min_codepoint=0x20) | st.sampled_from("\t\n\x85\x9b\u202e\u200b[]<>|=`"),
                   max_size=60)
#: Anything at all, for bytes spliced into the XML.
JUNK = st.text(max_size=30)


def _documents(data: dict):
    """(owner dict, key) for every XML string of an evidence document."""
    for host in data["hosts"].values():
        for pool in host.get("pools", {}).values():
            yield pool, "xml"
            for vol in pool.get("volumes", {}).values():
                yield vol, "xml"
        for dom in host.get("domains", {}).values():
            yield dom, "xml"
            if dom.get("inactive_xml"):
                yield dom, "inactive_xml"
            for snap in dom.get("snapshots", {}).values():
                yield snap, "xml"


def _mutate_tree(xml: str, rng: random.Random, text: str) -> str:
    root = etree.fromstring(xml.encode())
    nodes = list(root.iter())
    node = rng.choice(nodes)
    action = rng.randrange(4)
    if action == 0 and node.attrib:
        node.set(rng.choice(list(node.attrib)), text)
    elif action == 1:
        node.text = text
    elif action == 2 and node is not root:
        node.getparent().remove(node)
    else:
        node.addnext(copy.deepcopy(node)) if node is not root else root.append(etree.Element("x"))
    return etree.tostring(root, encoding="unicode")


@st.composite
def mutated_evidence(draw):
    lab, data = draw(st.sampled_from(FIXTURES))
    data = copy.deepcopy(data)
    data.pop("expect", None)
    rng = random.Random(draw(st.integers(0, 2**32)))
    documents = list(_documents(data))
    for _ in range(draw(st.integers(1, 4)) if documents else 0):
        owner, key = rng.choice(documents)
        if draw(st.booleans()):
            try:
                owner[key] = _mutate_tree(owner[key], rng, draw(XML_TEXT))
            except (ValueError, etree.XMLSyntaxError):  # text XML cannot hold, or already spliced
                pass
        else:
            at = rng.randrange(len(owner[key]) + 1)
            owner[key] = owner[key][:at] + draw(JUNK) + owner[key][at:]
    if draw(st.booleans()):
        host = rng.choice(list(data["hosts"].values()))
        for kind in ("pools", "domains"):
            if host.get(kind):
                name = rng.choice(list(host[kind]))
                host[kind][draw(XML_TEXT) or "x"] = host[kind].pop(name)
    return lab, Evidence.from_dict(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_evidence())
def test_a_mutated_host_is_that_students_result_and_every_renderer_copes(case):
    lab, evidence = case
    evidence.student = "eve"
    result = score(lab, evidence)
    assert result.status in (GRADED, ERROR)
    if result.status == GRADED:
        assert all(0 <= e.score <= e.max_score for e in result.exercises)
    intact_lab, intact_data = next((lab_, d) for lab_, d in FIXTURES if lab_ is lab)
    intact = score(lab, Evidence.from_dict({**intact_data, "student": "ana"}))
    run = LabRun(lab.id, lab.max_score, "en", [intact, result])
    for name in render.REGISTRY:
        report = render.Report(run, lab, {"ana": "ana@uni.es", "eve": None})
        outputs = [render.render(name, report), *(text for _, text in render.get(name).outputs(report))]
        for text in outputs:
            if name == "json":
                assert json.loads(text)["results"][1]["student"] == "eve"
            else:
                assert not any(c in text for c in "\x1b\x07\x9b\u202e"), name
    assert score(lab, Evidence.from_dict({**intact_data, "student": "ana"})).to_dict() == intact.to_dict()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["class.csv", "class.ini", "class.yml", "hosts"]))
def test_any_roster_text_is_a_roster_or_a_usage_error(tmp_path_factory, text, name):
    path = tmp_path_factory.mktemp("roster") / name
    try:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    except UnicodeEncodeError:
        return
    try:
        found = roster.load(path, ("A",))
    except UsageError as err:
        assert str(err)
    else:
        for entry in found.entries:
            assert roster.STUDENT_ID.fullmatch(entry.student) and set(entry.hosts) == {"A"}
