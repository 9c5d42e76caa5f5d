"""The campaign report of a finished (synthetic) campaign: Figure 1, halt triage, failure
modes, and an HTML page that a real headless Chromium loads with every image and no
console error. Skips with a message where no Chromium is installed (`make test` installs
Debian's chromium-headless-shell)."""

import csv
import re

import pytest

from xfer.testing.browser import check_page, find_browser
from xfer.testing.campaign import write_synthetic_campaign
from xfer.workflow.report import write_report


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("campaign")
    plan, store = write_synthetic_campaign(out)
    write_report(plan, store, out / "report")
    return out / "report"


@pytest.fixture(scope="module")
def browser():
    found = find_browser()
    if found is None:
        pytest.skip("no Chromium on PATH (apt-get install chromium-headless-shell; make test does)")
    return found


def test_report_has_figure1_with_numbers_and_failure_modes(report_dir):
    text = (report_dir / "report.md").read_text()
    assert "![figure1](figure1.png)" in text
    with open(report_dir / "figure1.csv") as fh:
        rows = {(r["quantity"], r["arch"], r["recipe"]): r for r in csv.DictReader(fh)}
    assert float(rows["t_stab_npt_ps", "deepmd", "OPLS"]["mean"]) == pytest.approx(2.0)
    assert float(rows["t_stab_npt_ps", "mace", "OPLS"]["mean"]) == pytest.approx(10.0)
    row = next(line for line in text.splitlines() if line.startswith("| deepmd/OPLS | NPT |"))
    assert "| 2/2 |" in row and "1/2 C-H bond, intramolecular" in row
    assert "1/2 C-H bond, intermolecular approach before the halt" in row and "0.90" in row
    assert "| deepmd/Full | NVT | 1/2 | 1/2 uncertainty at H of EMC |" in text
    assert "| mace/OPLS | NPT | 0/2 | none |" in text
    lines = [line for line in text.splitlines() if line.startswith("- **deepmd/")]
    assert len(lines) == 3
    pushed = next(line for line in lines if "seed1" in line)
    assert "EMC mol 4, EC mol 1" in pushed and "bond C1-H8 1.70 A vs r0 1.09 A" in pushed
    for link in re.findall(r"\]\((halts/[^)]+)\)", text):
        assert (report_dir / link).is_file(), link


def test_report_html_embeds_every_image(report_dir):
    page = (report_dir / "report.html").read_text()
    sources = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(sources) == 4 + 3  # figures + one picture per halted run
    assert all(s.startswith("data:image/png;base64,") for s in sources)


def test_report_html_loads_in_headless_chromium(report_dir, browser):
    check = check_page(report_dir / "report.html", browser)
    assert check.loaded and check.title == "xfer campaign synthetic"
    assert len(check.images) == 7 and check.broken_images == []
    assert all(i["width"] > 100 for i in check.images)
    assert check.errors == [] and check.console == []


def test_page_check_sees_a_broken_image_and_a_console_error(tmp_path, browser):
    page = tmp_path / "bad.html"
    page.write_text(
        '<!doctype html><html><head><title>bad</title></head><body><img alt="gone" '
        'src="missing.png"><script>console.error("boom")</script></body></html>'
    )
    check = check_page(page, browser)
    assert check.loaded and check.broken_images == ["gone"]
    assert any("missing.png" in e for e in check.errors)
    assert any("boom" in c for c in check.console)
