"""JupyterLab in headless Chromium for the browser tests: the server, notebooks, DOM selectors and waits.

Nothing here imports pytest or Playwright: the functions take a Playwright `page`, and the fixtures in
`conftest.py` import Playwright only when a browser test runs.

JupyterLab 4 DOM facts the selectors rely on (checked against JupyterLab 4.6 and ipywidgets 8):

* the visible notebook is the `.jp-NotebookPanel` in the main dock panel without `lm-mod-hidden`;
* the kernel state is the status-bar item `.jp-StatusBar-TextItem[title^="Change kernel"]`, text
  "Python 3 (ipykernel) | Idle"; the toolbar's execution indicator already says idle while the kernel is
  still initializing, so it is not used;
* code cell prompts (`.jp-CodeCell .jp-InputPrompt`) read "[ ]:", "[*]:" while queued or running, "[7]:" when
  done; Run All queues every cell at once, so "no [*] left and the kernel idle" means the run is over, whether
  it finished or stopped at an error;
* every output is a `.jp-OutputArea-output`; stderr streams and error tracebacks both carry
  data-mime-type="application/vnd.jupyter.stderr"; a matplotlib figure is
  `.jp-RenderedImage[data-mime-type="image/png"] img`;
* an ipywidgets view is a `.jupyter-widgets` element (`.widget-vbox`, `.widget-text`, `.widget-html`, an Image
  widget is an `<img>` with that class); when a widget cannot render, the learner sees the text
  "Error displaying widget", a `.jupyter-widgets-error-widget` box ("Click to show javascript error.", e.g.
  "Failed to load model class ..." for an ipywidgets 7 kernel under jupyterlab_widgets 3), or the widget's text
  repr ("VBox(children=...").
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "browser"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def find_chromium() -> str | None:
    """The Chromium binary: $CHROMIUM_PATH, else `chromium` or `chromium-browser` on PATH."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if Path(configured).is_file() else shutil.which(configured)
    return shutil.which("chromium") or shutil.which("chromium-browser")


# ---------------------------------------------------------------------------------------------------
# Notebooks


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    """Write a notebook of ("code" | "markdown", source) cells, with the python3 kernel, to `path`."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook()
    nb.cells = [new_code_cell(src) if kind == "code" else new_markdown_cell(src) for kind, src in cells]
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    return path


def copy_notebook_cleared(source: Path, target: Path) -> list[str]:
    """Copy a notebook without outputs and execution counts; return the sources of its code cells, in order.

    Starting from empty prompts is what makes "every prompt numbered" mean "every cell ran in this session".
    """
    import nbformat

    nb = nbformat.read(str(source), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(nb, str(target))
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


# ---------------------------------------------------------------------------------------------------
# Server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterServer:
    """`python -m jupyter lab` on 127.0.0.1 with a free port, a random token and every folder in a temp dir.

    `env` adds to (or, with None values, removes from) the environment the server and its kernels inherit.
    The kernels' TMPDIR, IPYTHONDIR and Jupyter config/runtime folders are inside the temp dir too, so `stop()`
    leaves nothing behind.
    """

    def __init__(self, python: str = sys.executable, env: dict[str, str | None] | None = None):
        self.python = python
        self.extra_env = dict(env or {})
        self.tmp = Path(tempfile.mkdtemp(prefix="ftlab-browser-"))
        self.root_dir = self.tmp / "root"
        self.port = 0
        self.token = secrets.token_hex(16)
        self.log_path = self.tmp / "jupyter-server.log"
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str, method: str = "GET", timeout: float = 5.0):
        request = urllib.request.Request(f"{self.base_url}/{path.lstrip('/')}", method=method,
                                         data=b"" if method == "POST" else None,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read().decode()
        return json.loads(body) if body.strip() else None

    def start(self, timeout: float = 120.0) -> "JupyterServer":
        dirs = {name: self.tmp / name for name in ("config", "runtime", "settings", "workspaces", "ipython",
                                                   "tmp")}
        for folder in [self.root_dir, *dirs.values()]:
            folder.mkdir(parents=True, exist_ok=True)
        # No news feed, no update check and no toast asking about them (it could cover the notebook).
        notification = dirs["settings"] / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True)
        (notification / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))

        env = dict(os.environ)
        env.update(JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
                   JUPYTER_PLATFORM_DIRS="1", IPYTHONDIR=str(dirs["ipython"]), TMPDIR=str(dirs["tmp"]),
                   PYTHONUNBUFFERED="1")
        env["PATH"] = str(Path(self.python).parent) + os.pathsep + env.get("PATH", "")
        env.pop("JUPYTER_TOKEN", None)
        for key, value in self.extra_env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value

        self.port = free_port()
        self._log = open(self.log_path, "wb")
        cmd = [
            self.python, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.open_browser=False",
            "--ServerApp.ip=127.0.0.1", f"--port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", "--ServerApp.password=",
            f"--ServerApp.root_dir={self.root_dir}", "--allow-root", "--ServerApp.terminals_enabled=False",
            # offline: no news feed, no update check, no PyPI extension manager
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            f"--LabApp.user_settings_dir={dirs['settings']}", f"--LabApp.workspaces_dir={dirs['workspaces']}",
        ]
        # A session of its own, so a Ctrl+C in the terminal reaches pytest, which then stops the server in order.
        self.proc = subprocess.Popen(cmd, cwd=str(self.root_dir), env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if "started" in (self.api("api/status", timeout=2) or {}):
                    return self
            except (urllib.error.URLError, OSError, ValueError) as error:
                last_error = error
            time.sleep(0.5)
        raise TimeoutError(f"jupyter lab did not answer /api/status within {timeout:.0f} s ({last_error}):\n"
                           f"{self.log_tail()}")

    def shutdown_kernels(self) -> None:
        """Shut down every running kernel (each notebook opened in the browser started one)."""
        try:
            for kernel in self.api("api/kernels") or []:
                try:
                    request = urllib.request.Request(f"{self.base_url}/api/kernels/{kernel['id']}",
                                                     method="DELETE",
                                                     headers={"Authorization": f"token {self.token}"})
                    urllib.request.urlopen(request, timeout=30).read()
                except (urllib.error.URLError, OSError):
                    pass
        except (urllib.error.URLError, OSError, ValueError):
            pass

    def log_tail(self, lines: int = 200) -> str:
        if self.log_path.exists():
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, timeout: float = 30.0) -> None:
        """Shut down the kernels and the server (REST shutdown, then SIGTERM, then SIGKILL) and remove the temp dir."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.api("api/shutdown", method="POST", timeout=10)
            except (urllib.error.URLError, OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
        # A kernel that outlived the server (its command line names its connection file in the temp dir).
        for pid in self.leftover_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def leftover_processes(self) -> list[int]:
        """Processes whose command line names this server's temp dir (its kernels' connection files are there)."""
        found = []
        marker = str(self.tmp).encode()
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
        return [pid for pid in found if pid != os.getpid()]


# ---------------------------------------------------------------------------------------------------
# Browser side

PANEL = "#jp-main-dock-panel .jp-NotebookPanel:not(.lm-mod-hidden)"
KERNEL_STATUS = '.jp-StatusBar-TextItem[title^="Change kernel"]'

_JS_KERNEL_IDLE = r"""(sel) => {
  const e = document.querySelector(sel);
  return !!e && /\|\s*Idle\s*$/.test(e.textContent.trim());
}"""

# Run All queues every cell ("[*]:") at once; the run is over when the kernel is idle and none is queued any
# more, and it has started when a prompt is queued or numbered (the notebooks start with empty prompts).
_JS_RUN_STATE = r"""([panelSel, statusSel]) => {
  const panel = document.querySelector(panelSel);
  if (!panel) return 'none';
  const prompts = Array.from(panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))
                       .map(p => p.textContent.trim());
  const st = document.querySelector(statusSel);
  const idle = !!st && /\|\s*Idle\s*$/.test(st.textContent.trim());
  const queued = prompts.filter(p => p === '[*]:').length;
  const numbered = prompts.filter(p => /^\[\d+\]:$/.test(p)).length;
  if (queued === 0 && numbered === 0) return 'not started';
  return (idle && queued === 0) ? 'done' : 'running';
}"""

_JS_COLLECT = r"""(panelSel) => {
  const panel = document.querySelector(panelSel);
  const cells = Array.from(panel.querySelectorAll('.jp-CodeCell'));
  const fallback = /Error displaying widget|Loading widget\.\.\.|Failed to load model class|Click to show javascript error|\b[HV]Box\(children=/;
  return cells.map((c, i) => {
    const outs = Array.from(c.querySelectorAll('.jp-OutputArea-output'));
    // textContent, not innerText: cells scrolled out of view skip rendering (content-visibility), and their
    // innerText is empty.
    const text = outs.map(o => o.textContent).join('\n');
    const imgs = sel => Array.from(c.querySelectorAll(sel))
        .map(img => ({w: img.naturalWidth, h: img.naturalHeight, complete: img.complete}));
    return {
      index: i,
      prompt: ((c.querySelector('.jp-InputPrompt') || {}).textContent || '').trim(),
      mimes: outs.map(o => o.getAttribute('data-mime-type') || ''),
      stderr: outs.filter(o => o.getAttribute('data-mime-type') === 'application/vnd.jupyter.stderr')
                  .map(o => o.textContent.slice(0, 3000)),
      traceback_like: /Traceback \(most recent call last\)|^\w+Error: /m.test(text),
      widget_fallback: fallback.test(text) || c.querySelector('.jupyter-widgets-error-widget') !== null,
      plots: imgs('.jp-RenderedImage[data-mime-type="image/png"] img'),
      widget_images: imgs('.jp-OutputArea-output img.jupyter-widgets, .jp-OutputArea-output .jupyter-widgets img'),
      widgets: c.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length,
      text: text.slice(0, 600),
    };
  });
}"""

# Widget views appear a moment after their cell finished (comm messages): settled means the required view is
# there or the renderer gave up, and no output still says it is loading.
_JS_WIDGETS_SETTLED = r"""([panelSel, required]) => {
  const panel = document.querySelector(panelSel);
  if (!panel) return false;
  const outs = Array.from(panel.querySelectorAll('.jp-OutputArea-output'));
  if (outs.some(o => o.querySelector('.jupyter-widgets-error-widget') || /Error displaying widget/.test(o.textContent)))
    return true;
  if (outs.some(o => /Loading widget\.\.\./.test(o.textContent))) return false;
  return required.every(sel => panel.querySelector(sel) !== null);
}"""

_JS_IMAGES_LOADED = r"""(panelSel) => Array.from(
  document.querySelectorAll(panelSel + ' .jp-OutputArea-output img')).every(i => i.complete)"""


def notebook_url(server: JupyterServer, notebook: str) -> str:
    """The notebook in a fresh named workspace, so JupyterLab restores no tab opened earlier on this server."""
    return server.url(f"lab/workspaces/ws-{secrets.token_hex(4)}/tree/{notebook}")


def wait_kernel_idle(page, timeout_ms: int = 120_000) -> None:
    page.wait_for_function(_JS_KERNEL_IDLE, arg=KERNEL_STATUS, timeout=timeout_ms, polling=250)


def open_notebook(page, server: JupyterServer, notebook: str, timeout_ms: int = 120_000) -> None:
    """Open the notebook and wait until its kernel is idle."""
    page.goto(notebook_url(server, notebook), wait_until="domcontentloaded", timeout=timeout_ms)
    page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-Cell", timeout=timeout_ms)
    wait_kernel_idle(page, timeout_ms)


def run_all_cells(page) -> None:
    """Run → Run All Cells, clicked in the menu bar as a learner would (the menu command is runmenu:run-all)."""
    page.locator("#jp-MainMenu .lm-MenuBar-item", has_text=re.compile(r"^\s*Run\s*$")).first.click()
    item = page.locator('#jp-mainmenu-run .lm-Menu-item[data-command="runmenu:run-all"]')
    item.wait_for(state="visible", timeout=10_000)
    item.click()


def run_state(page) -> str:
    """'not started', 'running' or 'done' (see _JS_RUN_STATE)."""
    return page.evaluate(_JS_RUN_STATE, [PANEL, KERNEL_STATUS])


def wait_run_over(page, timeout_ms: int, settle_s: float = 1.0) -> float:
    """Wait until the run that run_all_cells started is over (finished or stopped at an error); return seconds.

    "Done" must hold for `settle_s` in a row, so a short idle moment between two cells cannot end the wait.
    """
    start = time.monotonic()
    deadline = start + timeout_ms / 1000
    done_since = None
    while time.monotonic() < deadline:
        if run_state(page) == "done":
            done_since = done_since or time.monotonic()
            if time.monotonic() - done_since >= settle_s:
                return time.monotonic() - start
        else:
            done_since = None
        page.wait_for_timeout(250)
    raise TimeoutError(f"the notebook was still running after {timeout_ms / 1000:.0f} s "
                       f"(state: {run_state(page)})")


def wait_widgets_settled(page, required: list[str], timeout_ms: int = 60_000) -> None:
    """Wait until every selector in `required` matches in the notebook, or a widget shows its error."""
    page.wait_for_function(_JS_WIDGETS_SETTLED, arg=[PANEL, required], timeout=timeout_ms, polling=250)


def wait_images_loaded(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(_JS_IMAGES_LOADED, arg=PANEL, timeout=timeout_ms, polling=250)


def collect_cells(page) -> list[dict]:
    """What each code cell shows: prompt, output mime types, stderr texts, images, widget views, fallbacks."""
    return page.evaluate(_JS_COLLECT, PANEL)


def describe(cells: list[dict], sources: list[str] | None = None, only_interesting: bool = False) -> str:
    """The collected cells as text for an assertion message (with each code cell's first line, given `sources`)."""
    lines = []
    for c in cells:
        if only_interesting and not (c["stderr"] or c["traceback_like"] or c["widget_fallback"]):
            continue
        if sources is not None:
            lines.append(f"  code cell {c['index']}: {(sources[c['index']].splitlines() or [''])[0]}")
        lines.append(f"  code cell {c['index']} {c['prompt']} mimes={c['mimes']} widgets={c['widgets']} "
                     f"plots={c['plots']} widget_images={c['widget_images']}\n"
                     f"    stderr={c['stderr']}\n    text={c['text'][:300]!r}")
    return "\n".join(lines)


def code_cell(page, index: int):
    """The locator of the notebook's code cell number `index` (0-based, code cells only)."""
    return page.locator(f"{PANEL} .jp-CodeCell").nth(index)


def widget_error_details(page) -> str:
    """Click the first widget error box, as a learner would, and return its message."""
    box = page.locator(f"{PANEL} .jupyter-widgets-error-widget")
    if box.count() == 0:
        return ""
    try:
        box.first.click()
        page.wait_for_timeout(500)
        return box.first.inner_text()[:1500]
    except Exception as error:  # diagnostics only: the test fails anyway
        return f"(could not read the widget error: {error})"


def close_left_sidebar(page) -> None:
    """Collapse the file browser, as a learner might, so the notebook gets the window's width."""
    tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if tab.count():
        tab.first.click()
        page.wait_for_timeout(300)


_JS_GLYPHS = """([selector, text]) => {
    const element = document.querySelector(selector);
    if (!element) return null;
    const font = getComputedStyle(element).font;
    const picture = (character) => {
        const canvas = document.createElement('canvas');
        canvas.width = canvas.height = 96;
        const context = canvas.getContext('2d');
        context.font = font;
        context.fillText(character, 8, 72);
        return Array.from(context.getImageData(0, 0, 96, 96).data).join(',');
    };
    return {font: font, pictures: Array.from(text).map(picture)};
}"""


def glyphs_drawn(page, selector: str, text: str) -> tuple[bool, str]:
    """Whether the characters of `text`, drawn in the font of the first `selector` element, are real glyphs.

    Without a font that has them, every character is drawn as the same missing-glyph box (or nothing): so the
    pictures of two different characters must differ and hold some ink. Returns (drawn, the font checked).
    """
    found = page.evaluate(_JS_GLYPHS, [selector, text])
    if found is None:
        return False, f"no element {selector}"
    pictures = found["pictures"]
    inked = all(picture.strip("0,") for picture in pictures)
    return inked and len(set(pictures)) == len(pictures), found["font"]
