"""The controller runs the report's scheduler when controller.toml has [report]: past its deadline at start,
it builds the day's report, delivers it to a file drop with a receipt, and a recipient that fails for good is
a report_late alert on the console. Against a real controller on a real mosquitto."""

from __future__ import annotations

import socket
import time

from controller.reporting.report_store import ReportStore
from controller.store import open_store
from tests.reporting_day import report_toml


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_the_controller_sends_the_days_report(controller_service, tmp_path):
    drop = tmp_path / "drop"
    extra = report_toml(
        {"school": "示范中学", "school_code": "4401060001", "reporter": "li", "deadline": "00:00",
         "dir": str(tmp_path / "archive"), "attempts": 1},
        {"晨检": {"start": "06:30", "end": "09:00"}},
        recipients=[{"type": "file", "name": "bureau-drop", "dir": str(drop)},
                    {"type": "webhook", "name": "bureau-api", "url": f"http://127.0.0.1:{_closed_port()}/upload"}])
    store_path = tmp_path / "school.db"
    with open_store(str(store_path)) as store:
        store.add_user("li", "doctor", "pw-li-123456")  # the reporter is a console user
    service = controller_service(extra=extra, store=str(store_path))
    assert service.reports is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(drop.glob("4401060001-*.pdf")):
        time.sleep(0.2)
    [pdf] = list(drop.glob("4401060001-*.pdf"))
    day = pdf.stem.split("-", 1)[1]
    rs = ReportStore.beside(service.store)
    while time.monotonic() < deadline and len(rs.receipts("4401060001", day)) < 2:
        time.sleep(0.2)
    receipts = {r.recipient: r for r in rs.receipts("4401060001", day)}
    assert receipts["bureau-drop"].ok and not receipts["bureau-api"].ok
    assert "unreachable" in receipts["bureau-api"].detail
    assert rs.report("4401060001", day).verdict == "no_screening"  # nobody screened: not a zero report
    while time.monotonic() < deadline and not any(a.kind == "report_late" for a in service.store.alerts()):
        time.sleep(0.2)
    [alert] = [a for a in service.store.alerts() if a.kind == "report_late"]
    assert alert.gate is None
    assert f"report of {day} to bureau-api failed after 1 attempt(s): unreachable" in alert.detail
