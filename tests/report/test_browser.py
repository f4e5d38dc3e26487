"""The HTML report of a real quick pipeline run, opened by headless Chromium from file://.

One browser (DevTools over a pipe, see cdp.py) checks: no console error, exception or failed
load; every chart present, sized and drawn (data marks with a non-empty box); nothing fetched
and no script; a screenshot that is not blank; and the PDF from `rax report --format pdf` has
the page count the print layout predicts (± 1). A page with planted errors proves the error
check catches them.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from raxlab.cli.main import main
from raxlab.report.pdf import count_pages
from tests.report.cdp import Browser
from tests.report.conftest import chromium_or_skip

CHARTS_ALWAYS = {"compute-step", "compute-throughput", "busbw"}
CHARTS_WITH_PLAN = {"scaling", "pareto", "memory-projected"}
# A4 at 96 px/in with the report's 12 mm margins (style.py @page)
MM = 96 / 25.4
PAGE_W, PAGE_H = (210 - 24) * MM, (297 - 24) * MM

CHART_JS = """Array.from(document.querySelectorAll('figure.chart')).map(f => {
  const svg = f.querySelector('svg'); const r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const marks = Array.from(f.querySelectorAll('svg .mark'));
  const drawn = marks.filter(m => { const b = m.getBBox(); return b.width > 0 || b.height > 0; });
  return {key: f.dataset.chart, w: r.width, h: r.height, marks: marks.length, drawn: drawn.length,
          legend: f.querySelectorAll('svg .legend').length, labels: f.querySelectorAll('svg text').length};
})"""
PAGE_JS = (Path(__file__).parent / "print_pages.js").read_text().replace("__PAGE_H__", f"{PAGE_H:.3f}")


@pytest.fixture(scope="module")
def browser():
    exe = chromium_or_skip()
    with Browser(exe) as b:
        yield b


@pytest.fixture(scope="module")
def html_report(pipeline, tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "report.html"
    assert main(["report", pipeline.run_id, "--out", str(out), "--store", pipeline.store]) == 0
    return out


@pytest.fixture(scope="module")
def page(browser, html_report):
    t0 = time.monotonic()
    sid = browser.open(html_report.resolve().as_uri())
    return {"sid": sid, "load_s": time.monotonic() - t0}


def test_no_console_errors_and_nothing_fetched(browser, page):
    assert browser.errors() == []
    sid = page["sid"]
    assert browser.evaluate(sid, "document.scripts.length") == 0
    # self-contained: the page loaded no resource at all (no CDN, font, image or stylesheet)
    assert browser.evaluate(sid, "performance.getEntriesByType('resource').length") == 0
    sections = browser.evaluate(sid, "Array.from(document.querySelectorAll('section')).map(s => s.dataset.section)")
    assert sections == ["guideline", "card", "measured", "projections", "fabric", "pareto", "sensitivity",
                        "catalogue", "reproduce"]


def test_every_chart_present_and_drawn(browser, page, pipeline):
    charts = {c["key"]: c for c in browser.evaluate(page["sid"], CHART_JS)}
    expected = CHARTS_ALWAYS | (CHARTS_WITH_PLAN if pipeline.plan else set())
    assert expected <= set(charts), f"missing charts: {expected - set(charts)}"
    for key, c in charts.items():
        assert c["w"] > 200 and c["h"] > 120, (key, c)
        assert c["marks"] > 0 and c["drawn"] == c["marks"], (key, c)
        assert c["legend"] >= 1 and c["labels"] >= 6, (key, c)  # a legend, tick labels and axis titles


def test_screenshot_is_not_blank(browser, page):
    from PIL import Image, ImageStat

    img = Image.open(io.BytesIO(browser.screenshot(page["sid"]))).convert("L")
    assert img.size == (1200, 900)
    stat = ImageStat.Stat(img)
    inked = sum(img.histogram()[:200]) / (img.size[0] * img.size[1])  # share of pixels darker than 200
    assert stat.stddev[0] > 20 and inked > 0.02, (stat.stddev, inked)


def expected_pages(browser, sid) -> list[int]:
    """Pages per section that the print layout needs (print_pages.js simulates the breaks)."""
    browser.call("Emulation.setEmulatedMedia", {"media": "print"}, sid)
    browser.call("Emulation.setDeviceMetricsOverride",
                 {"width": round(PAGE_W), "height": round(PAGE_H), "deviceScaleFactor": 1, "mobile": False}, sid)
    try:
        return browser.evaluate(sid, PAGE_JS)
    finally:
        browser.call("Emulation.setEmulatedMedia", {"media": ""}, sid)
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False}, sid)


def test_pdf_has_the_expected_pages(browser, page, pipeline, tmp_path):
    per_section = expected_pages(browser, page["sid"])
    want = sum(per_section)
    out = tmp_path / "report.pdf"
    t0 = time.monotonic()
    assert main(["report", pipeline.run_id, "--format", "pdf", "--out", str(out), "--store", pipeline.store]) == 0
    pdf_s = time.monotonic() - t0
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    got = count_pages(data)
    assert abs(got - want) <= 1, f"PDF has {got} pages, the print layout needs {want} ({per_section})"
    assert got >= 9  # one page per section at least: the page breaks work
    assert per_section[0] == 1  # the guideline fits on the first page, under the cover
    assert out.with_suffix(".html").exists()  # the HTML it was printed from sits beside it
    print(f"PDF {got} pages (expected {want}) in {pdf_s:.1f} s; page load {page['load_s']:.1f} s")


def test_error_check_catches_planted_errors(browser, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!doctype html><html><body><img src="missing.png">'
                   '<script>console.error("planted"); undefinedFunction();</script></body></html>')
    before = len(browser.errors())
    browser.open(bad.resolve().as_uri())
    found = browser.errors()[before:]
    assert any("planted" in e for e in found)
    assert any("undefinedFunction" in e for e in found)
    assert any("missing.png" in e for e in found)
