"""The report's day: warnings as they happen, the build at the deadline minus 30 min, the send at the deadline.

``Reporter.due(now)`` is what the service's tick calls (any rate; it does
each thing once and is cheap otherwise):

1. every ``warning_every_s``: the warning rules (warning_rules.py), every day (on a day off, only for what
   that day's own events make a rule cross);
2. on a school day (``ReportConfig.is_school_day``: every day unless ``[report] days``, holidays and make-up
   workdays say otherwise), from ``deadline - build_before_min``: the report is built (PDF, CSV, JSON
   under ``[report] dir``) and stored; with alarms still open the reporter is
   paged, "zero report pending: N open alarms" — a zero report is never sent
   while an alarm is open;
3. from the deadline: the report is rebuilt with the name it goes out under
   (the reporter once they confirmed it, else the backup reporter) and sent
   to every recipient; each attempt is a receipt (who, when, which recipient,
   outcome, the files' hashes). A failed recipient is tried again every
   ``retry_s`` up to ``attempts``; then, and for a report not delivered by the
   deadline, ``on_alert`` is called. Nothing is dropped silently.

Callbacks: ``on_page(text)`` pages the reporter, ``on_warning(warning)`` tells
of a new warning and its draft, ``on_alert(text)`` raises an alert.
``notify_callbacks`` makes the first two from controller/notify's Notifier.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from ..notify.channels import DeliveryError
from ..notify.config import SmtpConfig
from .config import ReportConfig
from .delivery import deliver
from .document import build_content, sign, write_files
from .records import VERDICT_PENDING, Receipt, ReportRecord, ReportWarning
from .report_store import ReportStore
from .warning_rules import raise_warnings

log = logging.getLogger("thermogate.reporting")

PageCallback = Callable[[str], None]
AlertCallback = Callable[[str], None]
WarningCallback = Callable[[ReportWarning], None]

LATE_GRACE_S = 60.0  # a receipt more than this after the deadline is late


def pending_page_text(config: ReportConfig, day: str, open_alarms: int) -> str:
    return (f"zero report pending: {open_alarms} open alarms ({config.school} {day}); "
            f"零报告待定：尚有 {open_alarms} 条发热警报未处置，请处置后再报送。")


class Reporter:
    """One school's daily report: build, page, send, retry, alert. Safe to call from one tick thread and
    from the command line's process at once (the store keeps the state)."""

    def __init__(self, rs: ReportStore, config: ReportConfig, tz: dt.tzinfo, *, threshold_c: float,
                 smtp: dict[str, SmtpConfig] | None = None, on_page: PageCallback | None = None,
                 on_warning: WarningCallback | None = None, on_alert: AlertCallback | None = None,
                 warning_every_s: float = 60.0):
        self.rs, self.config, self.tz, self.threshold_c = rs, config, tz, threshold_c
        self.smtp = smtp or {}
        self.on_page = on_page or (lambda text: log.warning("page: %s", text))
        self.on_warning = on_warning
        self.on_alert = on_alert or (lambda text: log.error("alert: %s", text))
        self.warning_every_s = warning_every_s
        self._last_rules = float("-inf")
        self._alerted: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    # ------------------------------------------------------------ the tick

    def due(self, now: float) -> list[str]:
        """Do what is due at ``now`` (Unix seconds); what was done, in words (for logs and tests)."""
        with self._lock:
            done: list[str] = []
            day = dt.datetime.fromtimestamp(now, self.tz).date()
            code, key = self.config.school_code, day.isoformat()
            if now - self._last_rules >= self.warning_every_s:
                self._last_rules = now
                for w in raise_warnings(self.rs, self.config, day, self.tz, self.threshold_c, now, self.on_warning):
                    done.append(f"warning {w.rule} {w.scope_key}")
            before = self.config.previous_school_day(day)
            missed = None if before is None else self._missed(before)
            if missed:
                done.append(missed)
            if not self.config.is_school_day(day):
                return done  # [report] days, holidays: no report is due today (the warnings were looked at)
            rec = self.rs.report(code, key)
            if now >= self.config.build_at(day, self.tz) and rec is None:
                rec = self.build(day, now)
                done.append(f"built {key} ({rec.verdict})")
            deadline = self.config.deadline_at(day, self.tz)
            if rec is not None and now >= deadline:
                if rec.status == "built":
                    self.send(day, now)
                    done.append(f"sent {key}")
                elif rec.status == "failed":
                    if self._retry(day, now):
                        done.append(f"retried {key}")
                rec = self.rs.report(code, key)
                if rec is not None and rec.status != "sent" and (key, "late") not in self._alerted:
                    self._alerted.add((key, "late"))
                    self.on_alert(f"report of {key} not delivered by the deadline "
                                  f"{self.config.deadline:%H:%M}: {self._failing(day)}")
                    done.append(f"late alert {key}")
            return done

    def _missed(self, day: dt.date) -> str | None:
        """An alert, once, for the last school day before today (``[report] days``, holidays and workdays;
        every day by default) if its report did not go out: built but never delivered to every recipient,
        or never built while earlier days were (the controller was down at its deadline)."""
        key = day.isoformat()
        if (key, "missed") in self._alerted:
            return None
        rec = self.rs.report(self.config.school_code, key)
        if rec is not None and rec.status == "sent":
            return None
        if rec is None and not any(r.day < key for r in self.rs.reports(self.config.school_code)):
            return None  # nothing reported before either: a new installation, not a missed day
        self._alerted.add((key, "missed"))
        why = "never built" if rec is None else f"not delivered ({self._failing(day)})"
        self.on_alert(f"the report of {key} was {why}: send it with thermogate report send --date {key}")
        return f"missed alert {key}"

    # ------------------------------------------------------------ build, confirm, send

    def out_dir(self, day: dt.date) -> Path:
        return Path(self.config.dir) / day.isoformat()

    def build(self, day: dt.date, now: float, *, page: bool = True) -> ReportRecord:
        """Build (or rebuild) the day's report and its files; page the reporter if alarms are open."""
        content = build_content(self.rs, self.config, day, self.tz, self.threshold_c, now)
        rec = self.rs.report(self.config.school_code, day.isoformat())
        if rec is not None and rec.confirmed_by:
            content = sign(content, rec.confirmed_by, True)
        hashes = write_files(content, self.config, self.out_dir(day))
        rec = self.rs.save_report(self.config.school_code, day.isoformat(), built_at=now,
                                  verdict=content["verdict"]["code"], files=hashes, reporter=self.config.reporter,
                                  content=content)
        if page and content["verdict"]["code"] == VERDICT_PENDING:
            self._page_pending(day, content, now)
        return rec

    def _page_pending(self, day: dt.date, content: dict, now: float) -> None:
        self.on_page(pending_page_text(self.config, day.isoformat(), content["verdict"]["n"]))
        self.rs.mark_paged(self.config.school_code, day.isoformat(), now)

    def confirm(self, day: dt.date, user: str, now: float) -> ReportRecord:
        """The reporter (or backup) confirms the report; built first if it is not yet."""
        if self.rs.report(self.config.school_code, day.isoformat()) is None:
            self.build(day, now, page=False)
        return self.rs.confirm_report(self.config.school_code, day.isoformat(), user, now)

    def send_now(self, day: dt.date, now: float, *, user: str | None = None) -> list[Receipt]:
        """Send (or resend) the day's report on a person's request (the console's "send now"): under the same
        lock as ``due``, so it never runs beside the tick's own send. ``user``, when the reporter or the
        backup, confirms it first: it goes out under their name."""
        with self._lock:
            if user is not None and user in (self.config.reporter, self.config.backup_reporter):
                self.confirm(day, user, now)
            return self.send(day, now)

    def build_now(self, day: dt.date, now: float) -> ReportRecord:
        """Build the day's files without sending or paging (the console's "build now"), under ``due``'s lock."""
        with self._lock:
            return self.build(day, now, page=False)

    def signer(self, rec: ReportRecord | None) -> tuple[str, bool]:
        """Whose name the report goes out under: the one who confirmed it, else the backup reporter (the
        reporter when there is no backup), and whether it was confirmed."""
        if rec is not None and rec.confirmed_by:
            return rec.confirmed_by, True
        return self.config.backup_reporter or self.config.reporter, False

    def send(self, day: dt.date, now: float, *, only_failed: bool = False) -> list[Receipt]:
        """Rebuild the report as it stands, signed, and deliver it to every recipient (``only_failed``: to
        those not reached yet). A pending verdict is sent as pending, never as a zero report, and the
        reporter is paged again."""
        key = day.isoformat()
        rec = self.rs.report(self.config.school_code, key)
        signed_by, confirmed = self.signer(rec)
        content = sign(build_content(self.rs, self.config, day, self.tz, self.threshold_c, now), signed_by,
                       confirmed)
        hashes = write_files(content, self.config, self.out_dir(day))
        self.rs.save_report(self.config.school_code, key, built_at=now, verdict=content["verdict"]["code"],
                            files=hashes, reporter=self.config.reporter, content=content)
        if content["verdict"]["code"] == VERDICT_PENDING:
            self._page_pending(day, content, now)
        files = [self.out_dir(day) / name for name in sorted(hashes, key=lambda n: (not n.endswith(".pdf"), n))]
        meta = {"school": self.config.school, "school_code": self.config.school_code, "date": key,
                "verdict": content["verdict"]["zh"], "verdict_code": content["verdict"]["code"],
                "reporter": signed_by, "confirmed": confirmed}
        late = now > self.config.deadline_at(day, self.tz) + LATE_GRACE_S
        done = self._delivered(day) if only_failed else set()
        receipts = []
        for r in self.config.recipients:
            if r.name in done:
                continue
            attempt = self._attempts(day, r.name) + 1
            if only_failed and attempt > self.config.attempts:
                continue
            try:
                detail, ok = deliver(r, files, hashes, meta, timeout=self.config.timeout_s, smtp=self.smtp), True
            except DeliveryError as exc:
                detail, ok = exc.reason + (" (permanent)" if exc.permanent else ""), False
            except Exception as exc:  # a recipient's fault must not stop the others
                detail, ok = f"{type(exc).__name__}: {exc}", False
            receipts.append(self.rs.add_receipt(self.config.school_code, key, r.name, r.type, now, ok, attempt,
                                                detail, hashes, signed_by, late))
            if not ok and attempt >= self.config.attempts and (key, r.name) not in self._alerted:
                self._alerted.add((key, r.name))
                self.on_alert(f"report of {key} to {r.name} failed after {attempt} attempt(s): {detail}")
        all_ok = self._delivered(day) >= {r.name for r in self.config.recipients}
        self.rs.mark_sent(self.config.school_code, key, status="sent" if all_ok else "failed", signed_by=signed_by,
                          at=now, late=late)
        return receipts

    # ------------------------------------------------------------ retries

    def _delivered(self, day: dt.date) -> set[str]:
        return {r.recipient for r in self.rs.receipts(self.config.school_code, day.isoformat()) if r.ok}

    def _attempts(self, day: dt.date, name: str) -> int:
        return sum(1 for r in self.rs.receipts(self.config.school_code, day.isoformat()) if r.recipient == name)

    def _retry(self, day: dt.date, now: float) -> bool:
        receipts = self.rs.receipts(self.config.school_code, day.isoformat())
        ok = {r.recipient for r in receipts if r.ok}
        for rcp in self.config.recipients:
            if rcp.name in ok:
                continue
            mine = [r for r in receipts if r.recipient == rcp.name]
            if len(mine) < self.config.attempts and (not mine or now - mine[-1].at >= self.config.retry_s):
                self.send(day, now, only_failed=True)
                return True
        return False

    def _failing(self, day: dt.date) -> str:
        receipts = self.rs.receipts(self.config.school_code, day.isoformat())
        ok = {r.recipient for r in receipts if r.ok}
        last = {r.recipient: r.detail for r in receipts if not r.ok}
        missing = [f"{r.name} ({last.get(r.name, 'not tried')})" for r in self.config.recipients if r.name not in ok]
        return "; ".join(missing) or "nothing built"

    # ------------------------------------------------------------ checks

    def check_users(self) -> list[str]:
        """The reporter and backup must be console users; the problems, in words."""
        users = self.rs.user_names()
        return [f"report.{k} {name!r} is not a console user (thermogate user add {name} ...)"
                for k, name in (("reporter", self.config.reporter), ("backup_reporter", self.config.backup_reporter))
                if name and name not in users]


def notify_callbacks(notifier, config: ReportConfig) -> tuple[PageCallback, WarningCallback]:
    """``on_page`` and ``on_warning`` through controller/notify: REPORT events to the reporter's contact
    (``[report] reporter_contact``, else the reporter's name); a ``[[notify.route]] event = "report"``
    with ``to = ["@reporter", "<doctor>"]`` reaches the doctor too."""
    import time

    from ..notify import EventKind, NotifyEvent

    def on_page(text: str) -> None:
        now = time.time()
        notifier.notify(NotifyEvent(kind=EventKind.REPORT, key=f"report-{config.school_code}-pending-{int(now)}",
                                    time=now, reporter=config.page_contact, text=text))

    def on_warning(w: ReportWarning) -> None:
        notifier.notify(NotifyEvent(kind=EventKind.REPORT, key=f"warning-{w.id}", time=w.raised_at,
                                    reporter=config.page_contact, text=w.draft.get("text", w.rule)))

    return on_page, on_warning


class ReportThread:
    """``Reporter.due`` every ``every_s`` seconds in a thread of its own, so a slow recipient (a webhook
    waiting out its timeout, a PDF being drawn) never holds up the service's tick. An error is logged and
    told through ``on_alert`` once per kind of error, and the next round tries again."""

    def __init__(self, reporter: Reporter, every_s: float = 15.0, clock: Callable[[], float] | None = None):
        import time

        self.reporter = reporter
        self.every_s = every_s
        self._clock = clock or time.time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="report-scheduler", daemon=True)
        self._errors: set[str] = set()

    def start(self) -> ReportThread:
        for problem in self.reporter.check_users():
            self.reporter.on_alert(problem)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for done in self.reporter.due(self._clock()):
                    log.info("report: %s", done)
            except Exception as exc:  # the store away, a full disk: told once, tried again next round
                log.exception("report scheduler")
                kind = type(exc).__name__
                if kind not in self._errors:
                    self._errors.add(kind)
                    self.reporter.on_alert(f"the daily report could not be made: {kind}: {exc}")
            self._stop.wait(self.every_s)
