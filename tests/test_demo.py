"""``make demo``'s program, run for a bounded time: it must start everything and reach decisions."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_demo_runs_and_decides(tmp_path):
    out = subprocess.run([sys.executable, "-m", "controller.demo", "--seconds", "22", "--http-port", "0",
                          "--dir", str(tmp_path / "demo")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "console:  http://127.0.0.1:" in out.stdout
    assert "login:    demo / " in out.stdout
    db = sqlite3.connect(tmp_path / "demo" / "thermogate.db")
    decisions = {row[0] for row in db.execute("SELECT decision FROM screenings")}
    db.close()
    assert decisions & {"PASS", "FEVER"}, (decisions, out.stdout)  # real screenings, not only warm-up
