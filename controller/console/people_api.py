"""The console's People API: the roster and a person's file (audited). Visitors are visitors_api.py's.

The identity tables are read through ``PeopleStore.beside(service.store)``: the
console's own store connection, nothing more of the controller service. Who may
do what (auth.PERMISSIONS):

- ``people`` (guard, doctor, admin): search the roster and list it by class:
  id, name, student or staff, class, active. No phone numbers, no credentials.
- ``person_file`` (doctor, admin): open a person's file (一人一档) with a
  reason; every opening writes a row to ``identity_audit`` (reader = the
  console user).
- ``admin``: import the roster (the CLI's line-by-line outcome) and export it
  (a reason, audited).
"""

from __future__ import annotations

import io
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..identity import roster_csv
from ..identity.checks import IdentityError
from ..identity.records import Person
from ..identity.roster_import import import_roster
from ..reporting.report_store import ReportStore
from .api_part import ApiPart
from .auth import Session
from .web import LARGER_BODIES, Bad, csv_download, json_body, local_time, ok, read_body, text_field

MAX_ROSTER_BYTES = LARGER_BODIES["/api/people/import"]  # 3,000 people take about 250 kB
MAX_MATCHES = 500
REASON_KINDS = ("routine", "fever_followup", "parent_request", "other")


def person_row(p: Person) -> dict:
    """What every role may see of a person: no phone number, no credentials."""
    return {"id": p.id, "name": p.name, "role": p.role, "class": p.class_name, "active": p.active}


def _reason(data: dict) -> tuple[str, str]:
    """A file's opening reason: (one of REASON_KINDS, a text; required for ``other``)."""
    kind = data.get("reason_kind")
    if kind not in REASON_KINDS:
        raise Bad("err_reason_required", f"reason_kind must be one of {', '.join(REASON_KINDS)}")
    text = text_field(data, "reason", limit=200)
    if kind == "other" and not text:
        raise Bad("err_reason_required", "a reason 'other' needs a text")
    return kind, text


class PeopleApi(ApiPart):
    """The roster and a person's file (the console, its store and ``PeopleStore``: ApiPart's)."""

    def __init__(self, console):
        super().__init__(console)
        self.reports = ReportStore.beside(console.service.store)  # a file's absences section

    # ------------------------------------------------------------ the roster

    async def search(self, request: Request, session: Session):
        """?q= (in id, name or class, case-insensitive), ?class= (exactly), ?all=1 (inactive people too)."""
        q = (request.query_params.get("q") or "").strip().lower()[:64]
        klass = request.query_params.get("class") or None
        everyone = request.query_params.get("all") == "1"

        def run():
            roster = self.people.people(active=None if everyone else True)
            classes: dict[str, int] = {}
            for p in roster:
                classes[p.class_name] = classes.get(p.class_name, 0) + 1
            found = [p for p in roster if (klass is None or p.class_name == klass)
                     and (not q or q in p.id.lower() or q in p.name.lower() or q in p.class_name.lower())]
            return {"classes": [{"class": c, "count": n} for c, n in sorted(classes.items())],
                    "people": [person_row(p) for p in found[:MAX_MATCHES]], "matches": len(found),
                    "limit": MAX_MATCHES}

        return ok(await run_in_threadpool(run))

    async def person_file(self, request: Request, session: Session):
        """The file of one person; a POST because it writes the read, with its reason, to identity_audit."""
        pid = request.path_params["person_id"]
        data = await json_body(request)
        kind, text = _reason(data)
        reason = f"{kind}: {text}" if text else kind  # as identity_audit keeps it
        tz, gate = self.tz, self.gate_name

        def run():
            f = self.people.person_file(pid, absences=self.reports.absence_file)  # NotFound: 404, nothing recorded
            self.people.record_read(session.user, "person_show", pid, reason, time.time(),
                                    {"via": "console", "role": session.role})
            p = f.person
            return {
                "person": {**person_row(p), "boarder": p.boarder, "guardian_phone": p.guardian_phone,
                           "credentials": [str(c) for c in p.credentials],
                           "created_local": local_time(p.created_at, tz),
                           "updated_local": local_time(p.updated_at, tz)},
                "screenings": [{"id": s.id, "time_local": local_time(s.time, tz), "gate": s.gate,
                                "gate_name": gate(s.gate), "decision": s.decision, "reason": s.reason,
                                "estimate_c": s.estimate_c} for s in f.screenings],
                "alarms": [{"id": a.id, "time_local": local_time(a.time, tz), "gate": a.gate,
                            "gate_name": gate(a.gate), "status": a.status}
                           for a in f.alarms],
                "rechecks": [{"id": a.id, "time_local": local_time(a.disposed_at or a.time, tz),
                              "recheck_c": a.recheck_c, "outcome": a.outcome, "by": a.disposed_by,
                              "note": a.note} for a in f.rechecks],
                "absences": [{**a.to_json(), "marked_local": local_time(a.absence.marked_at, tz),
                              "closed_local": local_time(a.absence.closed_at, tz)} for a in f.absences],
                "reason": reason,
                "reason_kind": kind, "reason_text": text}

        return ok(await run_in_threadpool(run))

    async def roster_import(self, request: Request, session: Session):
        """The body is the CSV file's bytes; ?strict=1, ?encoding=, ?name= (the file's name, for the report)."""
        strict = request.query_params.get("strict") == "1"
        encoding = request.query_params.get("encoding") or None
        name = (request.query_params.get("name") or "roster.csv")[:120]
        data = await read_body(request, MAX_ROSTER_BYTES)
        if not data.strip():
            raise Bad("err_roster_file", "the file is empty: the first line must be the header "
                                         f"{','.join(roster_csv.HEADER)}")

        def run():
            with self.store.atomic():  # the roster's changes and their audit row: both or neither
                try:
                    report = import_roster(self.people, data, time.time(), encoding=encoding, strict=strict,
                                           classes=self.service.config.classes)  # [classes]: the school's list
                except IdentityError as exc:  # unreadable as a whole (encoding, header): nothing was written
                    raise Bad("err_roster_file", str(exc)) from None
                counts = {o: report.count(o) for o in ("added", "changed", "unchanged", "refused")}
                self.audit(session.user, "roster_import", {"file": name, "strict": strict,
                                                            "committed": report.committed, **counts})
            return {"encoding": report.encoding, "strict": strict, "committed": report.committed, "counts": counts,
                    "lines": [{"line": o.line, "id": o.person_id, "outcome": o.outcome, "reason": o.reason,
                               "text": str(o)} for o in report.lines],
                    # exactly what `thermogate people import` prints
                    "report": "\n".join([f"{name} ({report.encoding}):"] + [f"  {o}" for o in report.lines]
                                        + [report.summary()])}

        return ok(await run_in_threadpool(run))

    async def roster_export(self, request: Request, session: Session):
        data = await json_body(request)
        reason = text_field(data, "reason", required=True)
        klass = text_field(data, "class", limit=64) or None

        def run() -> str:
            roster = self.people.people(class_name=klass)
            out = io.StringIO(newline="")
            roster_csv.write(roster, out)
            self.people.record_read(session.user, "people_export", "*", reason, time.time(),
                                    {"via": "console", "rows": len(roster), "class": klass})
            return out.getvalue()

        return csv_download(await run_in_threadpool(run), "roster.csv")
