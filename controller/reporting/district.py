"""The district's daily report: the schools that share one PostgreSQL database, summed (docs/reports.md, "District").

The event tables (screenings, alarms, people, visitors, ...) carry nothing that says which school a row
belongs to, so two schools never share them: each school's controllers keep their tables in a schema of the
district's database of their own (``[store] url`` names it with libpq's ``options=-csearch_path=...``).
What the schools do share is the key of their built reports: the ``reports`` table of each schema holds that
school's report of each day under its school code, with the report's content (``document.build_content``)
as JSON.

The district report reads those rows, for one day, from every schema of the database that has thermogate's
tables; it never reads a school's event tables and never writes. For the schools the district expects (a
list of code and name), each school is

- reported: its report went out (``sent``, or ``failed`` when a recipient was not reached: the content is
  what was sent); the figures are final unless its verdict is pending;
- a draft: built, not sent yet (before its deadline): counted, but not final;
- missing: no report of the day under its code in any schema;
- in conflict: two schemas hold a report of the day under its code (which one is the school's cannot be
  told); or unreadable: a content this thermogate does not know. Neither is counted.

Sessions are matched by their name exactly as each school's ``[report.sessions]`` spells it, never by guess:
晨检 of one school and 晨间检查 of another are two sessions of the district report, each listing the schools
that held it. Per session: each school's total row, then the district's rows per category and in all.

The verdict: ``pending`` while any expected school is missing, a draft, in conflict, unreadable or pending
itself; else ``cases`` with the confirmed fevers of all schools; else ``no_screening`` when a school screened
nobody; else the district's zero report.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..csv_safe import csv_cell
from ..store.backends import backend_for
from ..store.table_store import LockedBackend
from .config import CSV_COLUMNS
from .counts import CATEGORIES, CATEGORY_ZH
from .document import render_json, write_blobs
from .records import VERDICT_CASES, VERDICT_NO_SCREENING, VERDICT_PENDING, VERDICT_ZERO

DISTRICT_TITLE_ZH = "区域学校晨午检及传染病疫情日报汇总"
CONTENT_VERSION = 1  # of a school's report content (document.build_content's "v") this module reads

SENT, FAILED, BUILT = "sent", "failed", "built"  # a stored report's status
MISSING, CONFLICT, UNREADABLE = "missing", "conflict", "unreadable"
REPORTED = (SENT, FAILED)
STATUS_ZH = {SENT: "已报送", FAILED: "已报送（有接收方失败）", BUILT: "已生成未报送", MISSING: "未报送",
             CONFLICT: "重复（两处存储）", UNREADABLE: "无法读取"}
FIGURES = ("expected", "screened", "not_screened", "manual", "fevers_raised", "fevers_confirmed", "fevers_open",
           "absent_sick", "absent_leave", "absent_other", "absent_unmarked")

_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")  # as [report] school_code: it names the files


@dataclass(frozen=True)
class School:
    """A school the district expects a report from."""

    code: str
    name: str


def check_code(code: str, what: str = "a school code") -> str:
    if not _CODE.fullmatch(code):
        raise ValueError(f"{what} {code!r} must be 1-32 letters, digits, - or _ (as [report] school_code)")
    return code


def load_schools(path: str | Path) -> tuple[School, ...]:
    """The district's schools from a CSV file whose header names the columns ``code`` and ``name`` (others are
    ignored; UTF-8, with or without a byte-order mark). A ValueError names the file and line of a problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(f"{p}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{p}: not UTF-8 text (save the list as CSV UTF-8)") from None
    lines = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), 1) if any(c.strip() for c in row)]
    if not lines:
        raise ValueError(f"{p}: empty; its first line is the header code,name")
    header = [c.strip().lower() for c in lines[0][1]]
    if "code" not in header or "name" not in header:
        raise ValueError(f"{p}: the first line must name the columns code and name, not {','.join(lines[0][1])!r}")
    ci, ni = header.index("code"), header.index("name")
    schools: list[School] = []
    seen: dict[str, int] = {}
    for n, row in lines[1:]:
        code = row[ci].strip() if ci < len(row) else ""
        name = row[ni].strip() if ni < len(row) else ""
        try:
            check_code(code)
        except ValueError as exc:
            raise ValueError(f"{p}:{n}: {exc}") from None
        if not name or not name.isprintable():
            raise ValueError(f"{p}:{n}: school {code} has no name")
        if code in seen:
            raise ValueError(f"{p}:{n}: school {code} is listed twice (line {seen[code]} too)")
        seen[code] = n
        schools.append(School(code, name))
    if not schools:
        raise ValueError(f"{p}: no school listed under the header")
    return tuple(schools)


@dataclass(frozen=True)
class StoredReport:
    """One school's report of one day as a schema of the database holds it. ``content`` is None when it is
    not a report content this thermogate reads."""

    schema: str
    school_code: str
    status: str
    signed_by: str | None
    built_at: float
    sent_at: float | None
    late: bool
    content: dict | None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _content(text: str) -> dict | None:
    try:
        doc = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("v") != CONTENT_VERSION or not isinstance(doc.get("sessions"), list):
        return None
    return doc


class DistrictStore(LockedBackend):
    """The district's PostgreSQL database, read only: every schema with thermogate's tables, and its reports."""

    @property
    def description(self) -> str:
        return self._db.description

    def schemas(self) -> list[str]:
        """The schemas that hold thermogate's tables (a ``reports`` table beside a ``schema_version``) and this
        user may read; a name with ``%`` in it cannot be sent through the store's SQL and is left out."""
        rows = self._read("SELECT r.table_schema AS name FROM information_schema.tables r "
                          "JOIN information_schema.tables v ON v.table_schema = r.table_schema "
                          "AND v.table_name = 'schema_version' WHERE r.table_name = 'reports' "
                          "ORDER BY r.table_schema")
        return [r["name"] for r in rows if "%" not in r["name"]]

    def reports(self, day: str) -> list[StoredReport]:
        """Every school's report of ``day`` (YYYY-MM-DD), from every schema."""
        out = []
        for schema in self.schemas():
            for r in self._read("SELECT school_code, status, signed_by, built_at, sent_at, late, content "
                                f"FROM {_ident(schema)}.reports WHERE day = ? ORDER BY school_code", (day,)):
                out.append(StoredReport(schema, r["school_code"], r["status"], r["signed_by"], r["built_at"],
                                        r["sent_at"], bool(r["late"]), _content(r["content"])))
        return out

    def days(self) -> tuple[str, str] | None:
        """The first and last day any school has a report of; None when there is none."""
        lo = hi = None
        for schema in self.schemas():
            [r] = self._read(f"SELECT MIN(day) AS lo, MAX(day) AS hi FROM {_ident(schema)}.reports")
            if r["lo"] is not None:
                lo = r["lo"] if lo is None else min(lo, r["lo"])
                hi = r["hi"] if hi is None else max(hi, r["hi"])
        return None if lo is None or hi is None else (lo, hi)


def open_district(url: str) -> DistrictStore:
    """The shared PostgreSQL database a URL names (nothing is created or migrated). A SQLite file holds one
    school, so it is refused; so is a server that cannot be reached (StoreUnavailable, a ValueError)."""
    if not isinstance(url, str) or not url.strip().startswith(("postgresql://", "postgres://")):
        raise ValueError(f"--store {url!r}: a district report reads the PostgreSQL database its schools share "
                         "(postgresql://user@host/db); a SQLite file holds one school")
    return DistrictStore(backend_for(url.strip()))


# ---------------------------------------------------------------- the content


def _zero() -> dict:
    return {k: 0 for k in FIGURES}


def _add(total: dict, row: dict) -> None:
    for k in FIGURES:
        v = row.get(k)
        if v is None:
            continue
        total[k] = (total.get(k) or 0) + int(v)


def _entry(school: School, found: list[StoredReport]) -> tuple[dict, StoredReport | None]:
    """The school's line of the district report, and the stored report counted for it (None: none)."""
    e = {"code": school.code, "name": school.name, "status": MISSING, "schemas": [r.schema for r in found],
         "verdict": None, "confirmed": 0, "open": 0, "signed_by": None, "built_at": None, "sent_at": None,
         "late": False, "sessions": [], "reported_name": None, "final": False}
    if not found:
        return e, None
    if len(found) > 1:
        e["status"] = CONFLICT
        return e, None
    r = found[0]
    if r.content is None:
        e["status"] = UNREADABLE
        return e, None
    c = r.content
    e.update(status=r.status, verdict=c["verdict"], signed_by=r.signed_by, built_at=r.built_at, sent_at=r.sent_at,
             late=r.late, sessions=[s["name"] for s in c["sessions"]], reported_name=c.get("school"),
             confirmed=sum(1 for x in c.get("cases", ()) if x.get("confirmed")),
             open=sum(1 for x in c.get("cases", ()) if x.get("open")),
             final=r.status in REPORTED and c["verdict"]["code"] != VERDICT_PENDING)
    return e, r


def district_verdict(entries: list[dict]) -> dict:
    """Pending while any school is not final (missing, a draft, in conflict, unreadable or pending); else the
    confirmed fevers of all schools; else no screening when a school screened nobody; else the zero report."""
    waiting = [e for e in entries if not e["final"]]
    if waiting:
        kinds = (("未报送", "missing", lambda e: e["status"] == MISSING),
                 ("已生成未报送", "not sent yet", lambda e: e["status"] == BUILT),
                 ("重复或无法读取", "in conflict or unreadable", lambda e: e["status"] in (CONFLICT, UNREADABLE)),
                 ("警报未处置", "with open alarms",
                  lambda e: e["status"] in REPORTED and e["verdict"]["code"] == VERDICT_PENDING))
        counts = [(zh, en, sum(1 for e in waiting if f(e))) for zh, en, f in kinds]
        n = len(waiting)
        zh = "、".join(f"{z} {k} 所" for z, _, k in counts if k)
        en = ", ".join(f"{k} {x}" for _, x, k in counts if k)
        return {"code": VERDICT_PENDING, "n": n, "schools": [e["code"] for e in waiting],
                "zh": f"区域零报告待定：{n} 所学校未完成报告（{zh}）。",
                "en": f"District zero report pending: {n} school(s) not final ({en})."}
    confirmed = sum(e["confirmed"] for e in entries)
    if confirmed:
        return {"code": VERDICT_CASES, "n": confirmed, "schools": [e["code"] for e in entries if e["confirmed"]],
                "zh": f"全区今日确认发热 {confirmed} 例。",
                "en": f"Confirmed fevers in the district today: {confirmed}."}
    idle = [e["code"] for e in entries if e["verdict"]["code"] == VERDICT_NO_SCREENING]
    if idle:
        return {"code": VERDICT_NO_SCREENING, "n": len(idle), "schools": idle,
                "zh": f"{len(idle)} 所学校今日无筛查记录，不能作区域零报告。",
                "en": f"{len(idle)} school(s) screened nobody today, so this is not a district zero report."}
    return {"code": VERDICT_ZERO, "n": 0, "schools": [], "zh": "区域零报告：今日各校均无发热病例。",
            "en": "District zero report: no fever in any school today."}


def _sessions(counted: list[tuple[dict, dict]], district: tuple[str, str]) -> list[dict]:
    """Per session name (in the order the schools list them): each school's total row, then the district's
    rows per category and in all."""
    names: list[str] = []
    for _, c in counted:
        names += [s["name"] for s in c["sessions"] if s["name"] not in names]
    code, name = district
    out = []
    for sname in names:
        rows, windows = [], {}
        per_cat: dict[str, dict] = {}
        total = _zero()
        for e, c in counted:
            s = next((x for x in c["sessions"] if x["name"] == sname), None)
            if s is None:
                continue
            windows[e["code"]] = f"{s['start']}-{s['end']}"
            for r in s["rows"]:
                if r["category"] == "all":
                    rows.append({"scope": "school", "school_code": e["code"], "school": e["name"], "session": sname,
                                 "category": "all", "group": e["name"], **{k: r[k] for k in FIGURES}})
                    _add(total, r)
                else:
                    cat = per_cat.setdefault(r["category"], {k: None for k in FIGURES})
                    _add(cat, r)
        for cat in [c for c in CATEGORIES if c in per_cat] + sorted(set(per_cat) - set(CATEGORIES)):
            rows.append({"scope": "district", "school_code": code, "school": name, "session": sname,
                         "category": cat, "group": "", **{k: per_cat[cat][k] for k in FIGURES}})
        rows.append({"scope": "district", "school_code": code, "school": name, "session": sname, "category": "all",
                     "group": "", **total})
        spans = sorted(set(windows.values()))
        out.append({"name": sname, "start": min(w.split("-")[0] for w in spans),
                    "end": max(w.split("-")[1] for w in spans), "same_window": len(spans) == 1,
                    "windows": windows, "schools": list(windows), "gates": [], "rows": rows})
    return out


def build_district(db: DistrictStore, schools: tuple[School, ...], day: dt.date, *, name: str, code: str,
                   tz_name: str | None, now: float) -> dict:
    """The district report of ``day``: the expected schools' stored reports summed. ValueError when no school
    in the database has a report of that day."""
    key = day.isoformat()
    found = db.reports(key)
    if not found:
        span = db.days()
        where = f"its reports run from {span[0]} to {span[1]}" if span else "it holds no school's report"
        raise ValueError(f"no school has a report of {key} in {db.description} ({where})")
    by_code: dict[str, list[StoredReport]] = {}
    for r in found:
        by_code.setdefault(r.school_code, []).append(r)
    entries, counted = [], []
    for school in schools:
        e, r = _entry(school, by_code.get(school.code, []))
        entries.append(e)
        if r is not None and r.content is not None:
            counted.append((e, r.content))
    listed = {s.code for s in schools}
    unlisted = [{"code": c, "name": (rs[0].content or {}).get("school"), "schemas": [r.schema for r in rs]}
                for c, rs in sorted(by_code.items()) if c not in listed]
    zones = {c.get("timezone") for _, c in counted}
    tz = tz_name or (zones.pop() if len(zones) == 1 else None) or "UTC"
    cases, warnings = [], []
    for e, c in counted:
        cases += [{**x, "school_code": e["code"], "school": e["name"]} for x in c.get("cases", ())]
        warnings += [{**w, "school_code": e["code"], "school": e["name"]} for w in c.get("warnings", ())]
    return {
        "v": 1,
        "kind": "district",
        "title": DISTRICT_TITLE_ZH,
        "school": name,
        "school_code": code,
        "date": key,
        "timezone": tz,
        "generated_at": now,
        "schools": entries,
        "unlisted": unlisted,
        "sessions": _sessions(counted, (code, name)),
        "cases": cases,
        "warnings": warnings,
        "verdict": district_verdict(entries),
    }


# ---------------------------------------------------------------- the files


def csv_rows(content: dict) -> list[dict]:
    """Per session: each school's total, then the district's rows; then one row for each expected school
    with nothing counted (missing, in conflict, unreadable), its status in the verdict column."""
    schools = {e["code"]: e for e in content["schools"]}
    blank = dict.fromkeys(FIGURES, "")
    out = []
    for s in content["sessions"]:
        for r in s["rows"]:
            e = schools.get(r["school_code"]) if r["scope"] == "school" else None
            if e is not None:
                verdict = e["verdict"]["zh"] + ("" if e["status"] in REPORTED else f"（{STATUS_ZH[e['status']]}）")
                reporter = e["signed_by"] or ""
            else:
                verdict, reporter = content["verdict"]["zh"], ""
            out.append({"date": content["date"], "school_code": r["school_code"], "school": r["school"],
                        "session": s["name"], "category": CATEGORY_ZH.get(r["category"], r["category"]),
                        "group": "", **{k: "" if r[k] is None else r[k] for k in FIGURES}, "verdict": verdict,
                        "reporter": reporter})
    for e in content["schools"]:
        if e["verdict"] is None:
            out.append({"date": content["date"], "school_code": e["code"], "school": e["name"], "session": "",
                        "category": "", "group": "", **blank, "verdict": STATUS_ZH[e["status"]], "reporter": ""})
    return out


def render_csv(content: dict) -> bytes:
    """The school report's columns (docs/reports.md), UTF-8 with a byte-order mark, CRLF."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for row in csv_rows(content):
        w.writerow([csv_cell(row[c]) for c in CSV_COLUMNS])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def write_files(content: dict, out_dir: Path) -> dict[str, str]:
    """``CODE-DATE.pdf``, ``.csv`` and ``.json`` in ``out_dir``, each written under a temporary name and
    renamed; {file name: sha256 hex}."""
    from .district_pdf import render_district_pdf

    stem = f"{content['school_code']}-{content['date']}"
    return write_blobs(out_dir, {f"{stem}.pdf": render_district_pdf(content), f"{stem}.csv": render_csv(content),
                                 f"{stem}.json": render_json(content)})


def summary_text(content: dict, out_dir: Path, hashes: dict[str, str]) -> str:
    """What the command prints: the verdict, each school, each session's district total, the files."""
    v = content["verdict"]
    entries = content["schools"]
    done = sum(1 for e in entries if e["status"] in REPORTED)
    lines = [f"{content['school_code']} {content['school']} {content['date']}: {v['code']}", f"  {v['zh']}",
             f"  {v['en']}", f"schools ({done} of {len(entries)} reported):"]
    for e in entries:
        if e["verdict"] is None:
            why = {MISSING: f"no report of {content['date']}",
                   CONFLICT: f"reports in {len(e['schemas'])} schemas: {', '.join(e['schemas'])}",
                   UNREADABLE: f"a report content this thermogate cannot read (schema {', '.join(e['schemas'])})"}
            lines.append(f"  {e['code']:<12} {e['name']}  {e['status'].upper()}: {why[e['status']]}")
        else:
            lines.append(f"  {e['code']:<12} {e['name']}  {e['status']:<6} {e['verdict']['code']:<12} "
                         f"confirmed {e['confirmed']}  open {e['open']}  signed by {e['signed_by'] or '-'}")
    lines.append("sessions (district totals):")
    counted = [e for e in entries if e["verdict"] is not None]
    for s in content["sessions"]:
        t = s["rows"][-1]
        held = f"{len(s['schools'])} of {len(counted)} schools"
        if len(s["schools"]) < len(counted):
            held += f": {', '.join(s['schools'])} only"
        window = f"{s['start']}-{s['end']}" if s["same_window"] else "windows differ"
        lines.append(f"  {s['name']}  {window}  ({held})  expected {t['expected']}  screened {t['screened']}  "
                     f"not screened {t['not_screened']}  fevers {t['fevers_raised']} raised, "
                     f"{t['fevers_confirmed']} confirmed, {t['fevers_open']} open")
    for u in content["unlisted"]:
        lines.append(f"not on the list, not counted: {u['code']} {u['name'] or ''} (schema {', '.join(u['schemas'])})")
    lines.append("files:")
    lines += [f"  {out_dir / n}  sha256 {h}" for n, h in sorted(hashes.items())]
    return "\n".join(lines)


__all__ = ["DISTRICT_TITLE_ZH", "DistrictStore", "School", "StoredReport", "build_district", "csv_rows",
           "district_verdict", "load_schools", "open_district", "render_csv", "summary_text", "write_files"]
