"""Fixtures of the browser group: one JupyterLab server and one headless Chromium per module (per module and worker
under `-n auto`), a fresh page per test.

Playwright is imported inside the `browser` fixture, so the tests are collected (and deselected by the default
`-m 'not slow and not browser'`) where it is not installed. Where Playwright, Chromium or JupyterLab is missing the
tests are skipped, or fail with what to install when BROWSER_TEST_REQUIRED=1 (as .ci/run sets it).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time

import pytest

import jupyterlab_driver as jd

# Screenshots of failures older than this session are an earlier run's. Under `-n auto` each worker sets its server up
# once per module it is handed, so a newer screenshot may be another worker's, or its own from a module before.
SESSION_START = time.time()


def _missing(what: str) -> None:
    if os.environ.get("BROWSER_TEST_REQUIRED") == "1":
        pytest.fail(f"BROWSER_TEST_REQUIRED=1 but {what}", pytrace=False)
    pytest.skip(what)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so the page fixture knows whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, "report_" + report.when, report)


@pytest.fixture(scope="module")
def jupyter_server():
    """JupyterLab whose kernels run the course's quick profile with widgets on, as a learner's would.

    The kernels inherit the test session's environment (the root conftest.py: hub offline, and FTLAB_RUNS_DIR, a
    fresh folder per session that is removed at its end, for the models lessons train).
    """
    if importlib.util.find_spec("jupyterlab") is None:
        _missing('jupyterlab is not installed: pip install -e ".[dev,browser]"')
    server = jd.JupyterServer(python=sys.executable, env={
        "FTLAB_PROFILE": "quick",
        "FTLAB_WIDGETS": "1",
        "FTLAB_LIVE_PLOT": None,  # the tests' text progress is for nbval; the browser shows the learner's plots
    })
    if not os.environ.get("FTLAB_RUNS_DIR"):
        server.extra_env["FTLAB_RUNS_DIR"] = str(server.tmp / "runs")
    for stale in jd.ARTIFACTS.glob("FAILED-*.png"):
        try:
            if stale.stat().st_mtime < SESSION_START:
                stale.unlink()
        except FileNotFoundError:
            pass  # another worker removed it first
    try:
        server.start()
        yield server
    finally:
        log_tail = server.log_tail(200)
        server.stop()
        jd.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER")  # under `-n auto`, one server per worker
        name = f"jupyter-server-{worker}.log" if worker else "jupyter-server.log"
        (jd.ARTIFACTS / name).write_text(log_tail + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing('playwright is not installed: pip install -e ".[browser]" (it drives the system Chromium; '
                 'no `playwright install` needed)')
    chromium = jd.find_chromium()
    if not chromium:
        _missing("Chromium is not installed: apt-get install -y --no-install-recommends chromium "
                 "(or set CHROMIUM_PATH to a Chromium binary)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True, args=jd.CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser, jupyter_server, request):
    """A page in a fresh browser context; a screenshot FAILED-<test>.png when the test fails; kernels shut down."""
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    console_errors: list[str] = []
    pg.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    pg.on("pageerror", lambda error: console_errors.append(f"pageerror: {error}"))
    pg.console_errors = console_errors
    try:
        yield pg
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            jd.ARTIFACTS.mkdir(parents=True, exist_ok=True)
            try:
                pg.screenshot(path=str(jd.ARTIFACTS / f"FAILED-{request.node.name}.png"))
            except Exception as error:  # the browser may be gone; the failure itself is reported anyway
                print(f"no failure screenshot: {error}")
        context.close()
        jupyter_server.shutdown_kernels()
