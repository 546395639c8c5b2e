"""The course in a real browser: JupyterLab, the HTML class report and nbgrader's feedback.

Headless Debian Chromium driven by Selenium through Debian's chromedriver (no browser download).
JupyterLab runs on a free loopback port with a token over a temporary copy of the lab3 notebook
(so autosave never writes outputs into notebooks/), with lab3 started on the lab host; a
"check my work" cell is run from the keyboard and its output read from the page. The class
report and the feedback HTML are opened as files: their charts must be loaded images and the
console must stay free of errors. Screenshots go to test-artifacts/browser/ (git-ignored).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from grader import ROOT
from nbgrader_course import run_workflow

pytestmark = [pytest.mark.slow]

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
BIN = Path(sys.executable).parent
#: nbgrader's feedback template loads MathJax from a CDN, unreachable on a closed network; that
#: one failed fetch is expected (the labs use no maths), any other console error is a failure.
EXPECTED_OFFLINE = ("cdnjs.cloudflare.com/ajax/libs/mathjax",)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1000",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and not any(x in e["message"] for x in EXPECTED_OFFLINE)]


def loaded_images(driver) -> list[dict]:
    return driver.execute_script(
        "return [...document.images].map(i => ({alt: i.alt, complete: i.complete,"
        " width: i.naturalWidth, height: i.naturalHeight}))")


def assert_renders_with_charts(driver, url: str, shot: str, minimum_images: int = 1) -> str:
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    time.sleep(0.5)
    driver.save_screenshot(str(ARTIFACTS / shot))
    images = loaded_images(driver)
    assert len(images) >= minimum_images, f"{shot}: {len(images)} images"
    assert all(i["complete"] and i["width"] > 0 and i["height"] > 0 for i in images), images
    assert console_errors(driver) == [], f"{shot}: console errors"
    return driver.find_element("tag name", "body").text


# --- JupyterLab ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lab3_started(labhosts):
    env = {**os.environ, **labhosts.env}
    proc = subprocess.run([BIN / "lab", "start", "lab3", "--host", labhosts.uri("a")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return env


@pytest.fixture(scope="module")
def jupyterlab(lab3_started, tmp_path_factory):
    """JupyterLab over a copy of notebooks/lab3, with the lab host's environment for the kernel."""
    root = tmp_path_factory.mktemp("jupyter")
    (root / "lab3").mkdir()
    shutil.copy(ROOT / "notebooks" / "lab3" / "lab3.ipynb", root / "lab3" / "lab3.ipynb")
    port, token = _free_port(), os.urandom(12).hex()
    env = {**lab3_started, "JUPYTER_CONFIG_DIR": str(root / ".config"),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(root / ".ws"),
           "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings")}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [BIN / "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--allow-root",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/api/status?token={token}", server)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _wait_for(url: str, server: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "JupyterLab exited: see test-artifacts/browser/jupyterlab.log"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer within {timeout} s")


def _wait(driver, script: str, timeout: float = 120, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.3)
    driver.save_screenshot(str(ARTIFACTS / "jupyterlab-timeout.png"))
    raise AssertionError(f"timed out waiting for {what or script}")


#: The notebook JupyterLab shows; until the app itself has loaded (slow on a busy machine) the
#: scripts below see no app and wait, instead of failing on an undefined one.
NOTEBOOK = "const nb = window.jupyterapp && window.jupyterapp.shell.currentWidget; "


def _run_cell_from_keyboard(driver, index: int) -> str:
    """Select cell `index` in command mode and press Shift+Enter, as a student does; return its output."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver.execute_script(NOTEBOOK + f"nb.content.activeCellIndex = {index}; nb.content.mode = 'command';"
                          " nb.content.activeCell.node.scrollIntoView(); nb.content.node.focus();")
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
    return _wait(driver, NOTEBOOK + f"const c = nb.content.widgets[{index}];"
                 " return c.model.executionCount && nb.sessionContext.session.kernel.status === 'idle'"
                 " && c.outputArea.node.innerText;", what=f"output of cell {index}")


def test_check_my_work_cell_runs_in_jupyterlab_and_prints_its_feedback(browser, jupyterlab):
    import nbformat

    base, token = jupyterlab
    cells = nbformat.read(ROOT / "notebooks" / "lab3" / "lab3.ipynb", 4).cells
    setup = next(i for i, c in enumerate(cells) if c.cell_type == "code" and "set_language(LANG)" in c.source)
    connect = next(i for i, c in enumerate(cells) if c.cell_type == "code" and c.source.startswith("%%host"))
    check = next(i for i, c in enumerate(cells) if c.source.strip() == 'check_my_work("lab3", "snap-offline");')
    browser.get(f"{base}/lab/tree/lab3/lab3.ipynb?token={token}")
    _wait(browser, NOTEBOOK + "return nb && nb.content && nb.content.widgets.length > 10 &&"
          " nb.sessionContext.session && nb.sessionContext.session.kernel &&"
          " nb.sessionContext.session.kernel.status === 'idle'", what="notebook and kernel")
    _run_cell_from_keyboard(browser, setup)
    connected = _run_cell_from_keyboard(browser, connect)   # a %%host cell runs as plain Python
    assert "Connected to" in connected and "127.0.0.1" in connected, connected
    feedback = _run_cell_from_keyboard(browser, check)
    browser.save_screenshot(str(ARTIFACTS / "jupyterlab-check-my-work.png"))
    # lab3 was just started: no snapshot `clean` yet, so the check fails with teaching feedback
    assert "snap-offline: 0/2" in feedback and "clean" in feedback, feedback
    page = browser.find_element("css selector", ".jp-Notebook").text
    assert "snap-offline: 0/2" in page


# --- the HTML class report and nbgrader's feedback ---------------------------------------------

@pytest.fixture(scope="module")
def class_report(lab3_started, tmp_path_factory):
    """A real class run of lab3: two students (one host), archived with its report.html."""
    tmp = tmp_path_factory.mktemp("class")
    uri = lab3_started["LAB_URI_A"]
    (tmp / "roster.csv").write_text(f"student,A\nana,{uri}\nbruno,{uri}\n")
    proc = subprocess.run([BIN / "grade", "lab3", "--roster", tmp / "roster.csv", "--run-dir", tmp / "run",
                           "--lang", "es"], env=lab3_started, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return tmp / "run" / "report.html"


def test_class_report_renders_with_its_charts_and_no_console_errors(browser, class_report):
    text = assert_renders_with_charts(browser, class_report.as_uri(), "class-report.png")
    assert "ana" in text and "bruno" in text and "snap-offline" in text


@pytest.fixture(scope="module")
def feedback_html(tmp_path_factory):
    return run_workflow(tmp_path_factory.mktemp("nbgrader"), labs=[]).feedback("lab0", "right")


def test_nbgrader_feedback_renders_with_its_chart_and_no_console_errors(browser, feedback_html):
    text = assert_renders_with_charts(browser, feedback_html.as_uri(), "nbgrader-feedback.png")
    assert "2.0 / 2.0" in text or "2 / 2" in text


def test_the_page_checks_catch_a_script_error_and_a_broken_chart(browser, tmp_path):
    """The render checks above can fail: a thrown error and an image that does not load."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><img alt='chart' src='missing.png'>"
                    "<script>throw new Error('boom')</script></body></html>")
    browser.get_log("browser")
    browser.get(page.as_uri())
    time.sleep(0.3)
    assert any("boom" in e for e in console_errors(browser))
    assert loaded_images(browser)[0]["width"] == 0
