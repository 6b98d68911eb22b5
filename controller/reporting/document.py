"""The day's report: its content (one dict, the JSON file), the CSV in the bureau's columns, and the files.

The content holds, per session and category, expected, screened, not
screened (with the absences by reason), manual readings, fevers raised,
confirmed and open; the day's cases and their state; the warnings; the
verdict (零报告 / pending / N cases / no screening); the school and the
reporter. It names nobody: classes, not pupils (the absentee lists with names
stay in the school, through ``counts.absentees``).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import asdict
from pathlib import Path

from ..csv_safe import csv_cell
from ..protocol.result import FEVER, PASS
from ..reports import (
    CONFIRMED_EN,
    CONFIRMED_ZH,
    NO_SCREENING_EN,
    NO_SCREENING_ZH,
    PENDING_EN,
    PENDING_ZH,
    ZERO_REPORT_EN,
    ZERO_REPORT_ZH,
)
from .config import CSV_COLUMNS, ReportConfig
from .counts import CATEGORY_ZH, DayData, day_counts
from .records import VERDICT_CASES, VERDICT_NO_SCREENING, VERDICT_PENDING, VERDICT_ZERO
from .report_store import ReportStore

TITLE_ZH = "学校晨午检及传染病疫情日报"
TITLE_EN = "Daily screening and infectious-disease report"


def verdict(data: DayData) -> dict:
    """The day's verdict: pending while any alarm is open (never a zero report), else N confirmed cases,
    else no screening (nobody was screened), else the zero report."""
    open_n = sum(a.open for a in data.alarms)
    confirmed = sum(a.confirmed for a in data.alarms) + sum(
        1 for m in data.manual if m.person_id and data.manual_fever(m.value_c))
    screened = sum(1 for r in data.screenings if r["decision"] in (PASS, FEVER)) + len(data.manual)
    if open_n:
        return {"code": VERDICT_PENDING, "n": open_n, "zh": PENDING_ZH.format(n=open_n),
                "en": PENDING_EN.format(n=open_n)}
    if confirmed:
        return {"code": VERDICT_CASES, "n": confirmed, "zh": CONFIRMED_ZH.format(n=confirmed),
                "en": CONFIRMED_EN.format(n=confirmed)}
    if not screened and not data.alarms:
        return {"code": VERDICT_NO_SCREENING, "n": 0, "zh": NO_SCREENING_ZH, "en": NO_SCREENING_EN}
    return {"code": VERDICT_ZERO, "n": 0, "zh": ZERO_REPORT_ZH, "en": ZERO_REPORT_EN}


def build_content(rs: ReportStore, config: ReportConfig, day: dt.date, tz: dt.tzinfo, threshold_c: float,
                  now: float) -> dict:
    """The report of ``day`` as things stand at ``now``."""
    data, sessions = day_counts(rs, config, day, tz, threshold_c, now=now)

    def hhmm(t: float) -> str:
        return dt.datetime.fromtimestamp(t, tz).strftime("%H:%M")

    cases = []
    for a in data.alarms:
        cat, grp = data.category_of(a.person_id, a.visitor_id)
        cases.append({"alarm": a.id, "case": a.case_id, "time": hhmm(a.time), "gate": a.gate, "category": cat,
                      "class": grp, "state": a.case_state or (a.outcome or a.status), "confirmed": a.confirmed,
                      "open": a.open})
    for m in data.manual:
        if m.person_id and data.manual_fever(m.value_c):
            cat, grp = data.category_of(m.person_id, None)
            cases.append({"alarm": None, "case": None, "time": hhmm(m.time), "gate": m.gate or "manual",
                          "category": cat, "class": grp, "state": f"manual {m.value_c:.1f}", "confirmed": True,
                          "open": False})
    warnings = [{"id": w.id, "rule": w.rule, "rule_spec": w.draft.get("rule_spec", w.rule), "scope": w.scope,
                 "scope_key": w.scope_key, "what": w.what, "count": w.count, "threshold": w.threshold,
                 "raised_at": w.raised_at, "detail": w.draft.get("detail", "")} for w in rs.warnings(day.isoformat())]
    return {
        "v": 1,
        "title": TITLE_ZH,
        "school": config.school,
        "school_code": config.school_code,
        "date": day.isoformat(),
        "timezone": getattr(tz, "key", str(tz)),
        "generated_at": now,
        "threshold_c": threshold_c,
        "sessions": [{"name": s.session.name, "start": s.session.start.strftime("%H:%M"),
                      "end": s.session.end.strftime("%H:%M"), "gates": list(s.session.gates),
                      "rows": [asdict(r) for r in s.rows]} for s in sessions],
        "cases": cases,
        "warnings": warnings,
        "verdict": verdict(data),
        "reporter": {"name": config.reporter, "backup": config.backup_reporter, "signed_by": None,
                     "confirmed": False},
    }


def sign(content: dict, signed_by: str, confirmed: bool) -> dict:
    """The content with the name it goes out under (the confirming reporter, else the backup)."""
    out = dict(content)
    out["reporter"] = dict(content["reporter"], signed_by=signed_by, confirmed=confirmed)
    return out


def render_json(content: dict) -> bytes:
    return (json.dumps(content, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode("utf-8")


def csv_rows(content: dict) -> list[dict]:
    rows = []
    reporter = content["reporter"]["signed_by"] or content["reporter"]["name"]
    for s in content["sessions"]:
        for r in s["rows"]:
            cat = r["category"]
            rows.append({"date": content["date"], "school_code": content["school_code"], "school": content["school"],
                         "session": s["name"], "category": CATEGORY_ZH.get(cat, cat), "group": r["group"],
                         "expected": "" if r["expected"] is None else r["expected"], "screened": r["screened"],
                         "not_screened": r["not_screened"], "manual": r["manual"],
                         "fevers_raised": r["fevers_raised"], "fevers_confirmed": r["fevers_confirmed"],
                         "fevers_open": r["fevers_open"], "absent_sick": r["absent_sick"],
                         "absent_leave": r["absent_leave"], "absent_other": r["absent_other"],
                         "absent_unmarked": r["absent_unmarked"], "verdict": content["verdict"]["zh"],
                         "reporter": reporter})
    return rows


def render_csv(content: dict, config: ReportConfig) -> bytes:
    """One row per session and class / category, in the bureau's column headers ([report.columns]);
    UTF-8 with a byte-order mark, so Excel and WPS read the Chinese right."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([config.header(c) for c in CSV_COLUMNS])
    for row in csv_rows(content):
        w.writerow([csv_cell(row[c]) for c in CSV_COLUMNS])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def write_files(content: dict, config: ReportConfig, out_dir: Path) -> dict[str, str]:
    """The PDF, CSV and JSON of a report in ``out_dir``; {file name: sha256 hex}."""
    from .pdf import render_pdf

    stem = f"{content['school_code']}-{content['date']}"
    return write_blobs(out_dir, {f"{stem}.pdf": render_pdf(content), f"{stem}.csv": render_csv(content, config),
                                 f"{stem}.json": render_json(content)})


def write_blobs(out_dir: Path, blobs: dict[str, bytes]) -> dict[str, str]:
    """Each file written under a temporary name and renamed (never seen half written); name -> its SHA-256."""
    out_dir.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for name, data in blobs.items():
        tmp = out_dir / (name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(out_dir / name)
        hashes[name] = hashlib.sha256(data).hexdigest()
    return hashes
