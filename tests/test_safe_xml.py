"""All host XML goes through the project's safe parser (grader.core.xmlmodel.parse: no entities,
no network, its depth and size bounds). A grep over the engine and the labs, their fixture
capture scripts included, finds any other way to parse XML: lxml's own entry points with their
default parser, the standard library's XML modules, or a second XMLParser."""
from __future__ import annotations

import re

from grader import ROOT

#: Ways to turn text into a tree other than xmlmodel.parse. Building and writing XML
#: (etree.Element, etree.tostring) and compiling XPath are not parsing.
OTHER_PARSERS = re.compile(
    r"\betree\s*\.\s*(?:fromstring|fromstringlist|XML|XMLID|parse|iterparse|HTML|XMLParser|XMLPullParser"
    r"|HTMLParser|XMLDTDID)\b"
    r"|from\s+lxml(?:\.etree)?\s+import\s+[^\n]*\b(?:fromstring|XML|parse|iterparse|XMLParser|objectify)\b"
    r"|\blxml\s*\.\s*(?:objectify|html)\b"
    r"|^\s*(?:import|from)\s+(?:xml\b|defusedxml\b|xmltodict\b)"
    r"|\b(?:minidom|ElementTree|xml\.sax|expatbuilder|pulldom)\b",
    re.MULTILINE)
#: The one place that builds the parser.
SAFE = ROOT / "grader" / "core" / "xmlmodel.py"


def sources() -> list:
    return sorted(p for folder in ("grader", "labs") for p in (ROOT / folder).rglob("*.py")
                  if "__pycache__" not in p.parts)


def test_the_grep_finds_what_it_looks_for():
    """The pattern catches each way it names (so the test below can fail)."""
    for line in ("root = etree.fromstring(xml)", "etree.parse(path)", "etree.XML(text)",
                 "parser = etree.XMLParser()", "from lxml.etree import fromstring",
                 "import xml.etree.ElementTree as ET", "from xml.dom import minidom",
                 "from lxml import objectify", "import defusedxml"):
        assert OTHER_PARSERS.search(line), line
    for line in ("etree.tostring(root)", "etree.XPath('./a')", "etree.Element('pool')",
                 "from grader.core.xmlmodel import parse", "etree.XMLSyntaxError"):
        assert not OTHER_PARSERS.search(line), line


def test_host_xml_is_parsed_only_by_the_projects_safe_parser():
    files = sources()
    names = {p.relative_to(ROOT).as_posix() for p in files}
    assert {"grader/doctor/hostfacts.py", "grader/provision/blockdevs.py", "labs/lab4/start.py",
            "labs/lab4/solution.py", "labs/lab4/fixtures/capture.py"} <= names
    assert sum(name.endswith("fixtures/capture.py") for name in names) >= 5
    found = []
    for path in files:
        if path == SAFE:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if OTHER_PARSERS.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "parse host XML with grader.core.xmlmodel.parse instead:\n" + "\n".join(found)
    assert OTHER_PARSERS.search(SAFE.read_text())    # the safe parser is built there, and only there
