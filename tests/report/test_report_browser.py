"""The report as a person sees it: a tiny real `beam evolve`, `beam report`, then headless Chromium.

Fails on any JavaScript console error and checks, in screenshots, that every plot was drawn.
Needs Debian's ``chromium`` and ``chromium-driver`` (CI installs them); skipped only when they are absent.
"""
from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from beam.problem import import_by_path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--window-size=1400,1000")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                       reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A real tiny run (the engine tests' small EPLB problem) and its report."""
    folder = tmp_path_factory.mktemp("browser")
    reproducible_copy = import_by_path(ROOT / "tests" / "reproducible.py", "beam_tests_reproducible").reproducible_copy
    problem = reproducible_copy(folder)
    run = folder / "run"
    command = [sys.executable, "-m", "beam.cli", "evolve", str(problem), "--generations", "2", "--population", "2",
               "--evaluations", "20", "--run-dir", str(run), "--no-example"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run([sys.executable, "-m", "beam.cli", "report", str(run)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return run / "report.html"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    yield driver
    driver.quit()


def drawn_fraction(png: bytes) -> tuple[float, int]:
    """Share of pixels that are not (near) white, and the number of distinct colours, in a PNG."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    inked = (pixels.min(axis=1) < 235).mean()
    return float(inked), len(np.unique(pixels, axis=0))


def test_report_renders_every_plot_without_console_errors(report, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(report.as_uri())
    plots = browser.find_elements(By.CSS_SELECTOR, ".plotly-graph-div")
    assert len(plots) >= 5, "fitness (2), balance-vs-speed, lineage and memory plots at least"
    WebDriverWait(browser, 60).until(lambda b: all(
        p.find_elements(By.CSS_SELECTOR, "svg.main-svg") for p in b.find_elements(By.CSS_SELECTOR, ".plotly-graph-div")))
    for plot in plots:
        name = plot.get_attribute("id")
        marks = plot.find_elements(By.CSS_SELECTOR, ".scatterlayer .trace path, .scatterlayer .point, .barlayer .point")
        assert marks, f"{name}: no trace was drawn"
        share, colours = drawn_fraction(plot.screenshot_as_png)
        assert share > 0.002 and colours > 8, f"{name}: screenshot looks blank ({share:.3%} inked, {colours} colours)"
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors


def test_lineage_labels_lead_to_the_code(report, browser):
    from selenium.webdriver.common.by import By

    browser.get(report.as_uri())
    link = browser.find_element(By.CSS_SELECTOR, "#fig-lineage .textpoint")
    target = f"program-{link.text.strip()}"
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", link)
    link.click()
    assert browser.execute_script("return location.hash") == f"#{target}"
    details = browser.find_element(By.ID, target)
    assert details.get_attribute("open") is not None and "def rebalance_experts" in details.text
    assert not [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
