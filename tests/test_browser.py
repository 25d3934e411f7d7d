"""Notebook 08's interactive colorizer in a real browser: JupyterLab on a free loopback port,
serving a throwaway copy of the project, driven by Debian's Chromium, headless, through playwright.

The test opens notebook 08, runs every cell, uploads a photo, clicks on it, sets a colour there and
reads the result back from the page: the colours near the click must have moved towards that
colour. With UNETCOLOR_SCREENSHOT=<file.png> it also writes a screenshot of the widget
(`make screenshot`). Without Chromium it is skipped, saying why; with CI=true it fails instead.
"""

from __future__ import annotations

import base64
import io
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from unetcolor import color, files
from unetcolor.colorizers import hints

from conftest import throwaway_project

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT_ENV = "UNETCOLOR_SCREENSHOT"
NOTEBOOK = "notebooks/08_colorize_interactively.ipynb"
BLUE = "#3366cc"
SERVER_SECONDS = 60  # the server's start
CELLS_SECONDS = 120  # every cell run, the models loaded: the imports alone take tens of seconds on 2 busy cores
STEP_SECONDS = 30  # one change and its result


def need_browser() -> None:
    if CHROMIUM.is_file():
        return
    reason = f"{CHROMIUM} is missing: `apt-get install -y chromium` installs it (the browser test drives it headless)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + "; CI=true: a missing browser fails the run")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_server(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer {url} within {SERVER_SECONDS} s:\n{log.read_text()[-3000:]}")


def upload_photo(path: Path) -> np.ndarray:
    """A 360 x 240 photo written as PNG: a real scene (scikit-image's CC0 coffee photo), shrunk."""
    rgb = np.asarray(Image.fromarray(skdata.coffee()).resize((360, 240), Image.LANCZOS))
    Image.fromarray(rgb).save(path)
    return rgb


def result_pixels(page) -> np.ndarray:
    """The result image as the page holds it (its blob's bytes, fetched in the page), decoded here: uint8 RGB."""
    encoded = page.evaluate("""async () => {
        const image = document.querySelector("img.unetcolor-result");
        const bytes = new Uint8Array(await (await fetch(image.src)).arrayBuffer());
        let text = "";
        for (const byte of bytes) text += String.fromCharCode(byte);
        return btoa(text);
    }""")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGB"))


def status_shows(page, text: str) -> None:
    page.locator(".unetcolor-colorizer").get_by_text(text, exact=False).first.wait_for(timeout=STEP_SECONDS * 1000)


def ab_near(rgb: np.ndarray, x: int, y: int, side: int = 7) -> np.ndarray:
    window = rgb[y - side // 2:y + side // 2 + 1, x - side // 2:x + side // 2 + 1]
    return color.rgb_to_lab(window).reshape(-1, 3)[:, 1:].mean(axis=0)


def drive(page, port: int, token: str, tmp_path: Path, photo: np.ndarray) -> None:
    """Open notebook 08, run every cell, upload the photo, click on it and set a colour there."""
    page.goto(f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}", timeout=SERVER_SECONDS * 1000)
    # the kernel is up when the status bar says so; a run asked for before that is dropped
    page.locator(".jp-StatusBar-Widget").get_by_text("Idle").first.wait_for(timeout=SERVER_SECONDS * 1000)
    page.locator("#jp-MainMenu").get_by_text("Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.locator("img.unetcolor-result").wait_for(timeout=CELLS_SECONDS * 1000)

    # as a person uploads: the button, then the file
    with page.expect_file_chooser(timeout=STEP_SECONDS * 1000) as chooser:
        page.locator(".unetcolor-colorizer .widget-upload").click()
    chooser.value.set_files(tmp_path / "upload.png")
    status_shows(page, "upload.png: 360×240 pixels")
    automatic = result_pixels(page)
    assert automatic.shape == photo.shape  # a photo under the preview's width is shown at its own size

    x, y = 100, 60  # on the saucer, left of the cup: the preview's pixels are the photo's here
    page.locator("img.unetcolor-photo").click(position={"x": x + 0.5, "y": y + 0.5})
    status_shows(page, f"hint {x},{y}=#")
    page.locator(".unetcolor-colorizer .widget-colorpicker input[type=color]").fill(BLUE)  # the picker's choice
    status_shows(page, f"hint {x},{y}={BLUE}")
    hinted = result_pixels(page)

    target = hints.Hint(0, 0, BLUE).ab
    before, after = (np.linalg.norm(ab_near(image, x, y) - target) for image in (automatic, hinted))
    assert after < before / 2, (before, after)
    screenshot = os.environ.get(SCREENSHOT_ENV)
    if screenshot:
        shot = page.locator(".unetcolor-colorizer").screenshot()
        files.write_atomic(Path(screenshot), lambda temporary: temporary.write_bytes(shot))


def test_the_interactive_colorizer_follows_a_click_and_a_colour_in_jupyterlab(tmp_path):
    need_browser()
    from playwright.sync_api import sync_playwright  # the test's own dependency, not the package's

    project, _, environment = throwaway_project(tmp_path, "unused", ".png", seed=0, count=1)
    photo = upload_photo(tmp_path / "upload.png")
    port, token = free_port(), secrets.token_hex(16)
    # the server's settings, workspaces and runtime files in the throwaway folder: nothing of the user's is read or
    # written
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR",
                 "JUPYTER_RUNTIME_DIR"):
        environment[name] = str(tmp_path / name.lower())
    # no "official Jupyter news?" prompt over the widget (and no request for the news)
    notification = (tmp_path / "jupyterlab_settings_dir" / "@jupyterlab" / "apputils-extension"
                    / "notification.jupyterlab-settings")
    notification.parent.mkdir(parents=True)
    notification.write_text('{"fetchNews": "false", "checkForUpdates": false}')
    log = tmp_path / "jupyterlab.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={project}",
             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            cwd=project, env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}", server, log)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                try:
                    drive(page, port, token, tmp_path, photo)
                except Exception:
                    page.screenshot(path=tmp_path / "failure.png")  # what the page showed, beside the server's log
                    raise
            finally:
                browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
