"""`make lab` in a real browser: notebook 01 opens as a notebook by its URL, runs, and shows its figures.

The server is started with the command line `make lab` runs (scripts/lab.sh) on a free 127.0.0.1 port with a token;
headless Chromium (Debian package ``chromium``) is driven by Playwright through ``executable_path``, since no browser
download is possible. Outside CI a missing Chromium or Playwright skips the test and says why; in CI it fails.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jupytext
import pytest

from xner.config import repo_root

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NOTEBOOK = "notebooks/01_data_inspection.py"
# JupyterLab renders a cell's error (traceback) as a stderr output, like warnings; an error is one naming an exception
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
IS_ERROR = r"Traceback \(most recent call last\)|^\s*\w*(Error|Exception)\b"
# True once every code cell has run, or a cell failed (the rest then do not run) and nothing is running
FINISHED = """([n, stderr, isError]) => {
    const nb = document.querySelector('.jp-NotebookPanel');
    const ps = [...nb.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent);
    const outs = [...nb.querySelectorAll(stderr)];
    const failed = outs.some(o => new RegExp(isError, 'm').test(o.textContent));
    return ps.length === n && !ps.some(p => p.includes('*')) && (failed || ps.every(p => /\\d/.test(p)));
}"""


def _require_browser() -> None:
    """Skip (outside CI) or fail (in CI) when Chromium or Playwright is missing."""
    missing = []
    if not Path(CHROMIUM).is_file():
        missing.append(f"{CHROMIUM} (Debian package chromium: scripts/system-deps.sh installs it)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright (pip install -e '.[test]')")
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(proc: subprocess.Popen, url: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"JupyterLab exited early:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer within {timeout:.0f} s:\n{log.read_text()}")


@pytest.fixture
def lab_server(fixture_data_dir, tmp_path):
    """`make lab`'s server (scripts/lab.sh) on a free localhost port; yields (base URL, token); stopped by PID."""
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "BIN": str(Path(sys.executable).parent),
        "LAB_PORT": str(port),
        "LAB_ARGS": f"--no-browser --IdentityProvider.token={token}",
        "XNER_DATA_DIR": str(fixture_data_dir),  # tiny data: the test is about the browser, not the analysis
        "XNER_RESULTS_DIR": str(tmp_path / "results"),
        "XNER_FIGURES_DIR": str(tmp_path / "figures"),
        # the user's own JupyterLab settings, workspaces and runtime files play no part
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
    }
    # every cell in the page (no windowed rendering), so that the test sees every prompt and output
    tracker = tmp_path / "lab-user-settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text('{"windowingMode": "none"}', encoding="utf-8")
    log = tmp_path / "lab.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            ["bash", str(repo_root() / "scripts" / "lab.sh")], env=env, stdout=fh, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(proc, f"{base}/api/status?token={token}", log)
        yield base, token, tmp_path
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # lab.sh execs jupyter-lab: this PID is the server's
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def _run_all_cells(page) -> None:
    """Run > Run All Cells, from the menu bar as a person would."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def test_notebook_01_opens_as_a_notebook_runs_and_shows_figures(lab_server):
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    base, token, tmp_path = lab_server
    started = time.monotonic()
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh user-data-dir
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
        )
        try:
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            # opened as a notebook (Jupytext Notebook viewer), not in the text editor
            panel = page.locator(".jp-NotebookPanel").first
            expect(panel).to_be_visible(timeout=120_000)
            assert page.locator(".jp-FileEditor").count() == 0, "the notebook opened in the text editor"
            # the kernel named in the header starts by itself (no kernel dialog) and becomes idle
            n_code = sum(c.cell_type == "code" for c in jupytext.read(repo_root() / NOTEBOOK).cells)
            expect(panel.locator(".jp-CodeCell")).to_have_count(n_code, timeout=120_000)
            expect(page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"ipykernel\) \| Idle$"))).to_be_visible(
                timeout=120_000
            )
            _run_all_cells(page)
            page.wait_for_function(
                FINISHED,
                arg=[n_code, STDERR, IS_ERROR],
                timeout=120_000,
            )
            errors = [t for t in panel.locator(STDERR).all_inner_texts() if re.search(IS_ERROR, t, re.M)]
            assert not errors, f"a cell failed: {errors}"
            prompts = panel.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()
            assert all(re.search(r"\[\d+\]", p) for p in prompts), prompts
            assert panel.locator(".jp-OutputArea-output img").count() >= 1, "no figure shown"
        finally:
            context.close()
    print(f"browser part: {time.monotonic() - started:.1f} s")
    # the figures were written where the settings say, not under notebooks/
    assert (tmp_path / "figures" / "all" / "01_data_inspection" / "label_mix.png").is_file()
    assert (tmp_path / "results" / "all" / "01_data_inspection" / "language_stats.csv").is_file()
