"""The classroom screen of a watched session (`grade --watch --serve`) in a real browser
(headless Chromium): the chart and the table render, the page refreshes itself, `--anonymous`
shows no names, and the server answers read-only, on loopback, with no script allowed."""
from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request

import pytest

from grader.testing import simclass
from grader.testing.loopback import free_port
from test_browser import ARTIFACTS, assert_renders_with_charts, browser  # noqa: F401 - the fixture
from test_watch import watch_process
from toyhelp import host

pytestmark = [pytest.mark.slow]


@pytest.fixture(params=[False, True], ids=["named", "anonymous"])
def served(request, tmp_path):
    roster = simclass.write_roster(tmp_path / "roster.csv", [("ana", host("right")), ("ben", host("untouched"))])
    port = free_port()
    proc = watch_process("toy", "--roster", roster, "--watch", "--interval", "2", "--serve", port,
                         *(["--anonymous"] if request.param else []), "--run-dir", tmp_path / "run")
    url = f"http://127.0.0.1:{port}/"
    for _ in range(100):
        try:
            if b"<table" in urllib.request.urlopen(url, timeout=1).read():
                break
        except OSError:
            pass
        time.sleep(0.1)
    yield url, request.param
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)


def test_the_class_page_renders_with_its_chart_and_table(browser, served):  # noqa: F811
    url, anonymous = served
    text = assert_renders_with_charts(browser, url, f"watch-{'anonymous' if anonymous else 'named'}.png")
    assert "toy — the class, live" in text and "Refreshes every 2 s" in text
    rows = [r.text for r in browser.find_elements("css selector", "#board tbody tr")]
    assert len(rows) == 2
    if anonymous:
        assert rows[0].startswith("#1") and "ana" not in text and "ben" not in text
    else:
        assert rows[0].startswith("ana") and rows[1].startswith("ben")
    assert "passed 1/2 1/2" in browser.find_element("css selector", "#board tfoot").text
    refresh = browser.find_element("css selector", "meta[http-equiv=refresh]").get_attribute("content")
    assert refresh == "2"


def test_the_page_server_is_read_only_and_allows_no_script(served):
    url, _ = served
    with urllib.request.urlopen(url) as answer:
        policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script" not in policy
    state = urllib.request.urlopen(url + "state.json").read()
    assert b'"passed": {"pool-on": 1, "vm-snap": 1}' in state
    for method in ("POST", "PUT", "DELETE"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, data=b"x", method=method))
        assert refused.value.code in (405, 501)
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(url + "../../etc/passwd")
    assert missing.value.code == 404
