"""The report's PDF rendered the way a printer or a viewer would: pdftoppm draws the page (it must not be
blank), pdftotext reads the Chinese back, pdffonts shows the CJK font embedded."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from controller.reporting.document import TITLE_ZH, build_content
from controller.reporting.pdf import render_pdf
from controller.reporting.report_store import ReportStore
from controller.store import open_store
from tests import reporting_day as sd

REPO = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:  # make test installs poppler-utils; without it this must fail, not pass quietly
        pytest.fail(f"{name} not found: install poppler-utils (make test does, as root on Debian)")
    return path


@pytest.fixture(scope="module")
def pdf_file(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("pdf")
    store = open_store(f"sqlite://{tmp}/day.db")
    try:
        sd.whole_day(store)
        config = sd.load_config(tmp / "drop", "http://127.0.0.1:9/")
        content = build_content(ReportStore.beside(store), config, sd.DAY, sd.TZ, 37.3, sd.at("14:30"))
    finally:
        store.close()
    path = tmp / "report.pdf"
    path.write_bytes(render_pdf(content))
    return path


def test_the_page_renders_and_is_not_blank(pdf_file, tmp_path):
    subprocess.run([_tool("pdftoppm"), "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf_file),
                    str(tmp_path / "page")], check=True, timeout=60)
    [png] = sorted(tmp_path.glob("page*.png"))
    with Image.open(png) as im:
        w, h = im.size
        assert abs(h / w - 297 / 210) < 0.01  # A4 portrait
        gray = im.convert("L")
        dark = sum(gray.histogram()[:128])
        assert dark > 0.01 * w * h  # text and table rules, not an empty page
        assert gray.getextrema()[1] == 255  # and still mostly paper
        # Red ink of a "cases" verdict box: the verdict is drawn, in its colour.
        px = np.asarray(im.convert("RGB")).astype(int)
        red = ((px[..., 0] > 150) & (px[..., 1] < 60) & (px[..., 2] < 60)).sum()
        assert red > 50


def test_the_chinese_text_extracts(pdf_file):
    text = subprocess.run([_tool("pdftotext"), "-layout", str(pdf_file), "-"], check=True, capture_output=True,
                          timeout=60).stdout.decode("utf-8")
    for needed in (TITLE_ZH, "示范中学", "4401060001", "晨检", "午检", "初一(1)班", "今日确认发热 1 例", "自动预警",
                   "报告人"):
        assert needed in text, needed
    fonts = subprocess.run([_tool("pdffonts"), str(pdf_file)], check=True, capture_output=True, timeout=60).stdout
    line = next(x for x in fonts.decode().splitlines() if "CJK" in x)
    assert line.split()[-5:-3] == ["yes", "yes"]  # embedded, as a subset
