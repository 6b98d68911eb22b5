"""The notifications tables (migration 5): the outbox, and every attempt's outcome.

``StoreOutbox.beside(store)`` works through an open event store's own
connection and lock, like the identity and case tables; ``open_outbox(url)``
opens its own. A delivery is written (``pending``) before it is queued; each
attempt adds a row to ``notification_attempts``; the final attempt marks the
delivery ``sent`` or ``failed``. ``pending()`` is what a restarted controller
sends again; ``history(key)`` is an event's attempts, for its case.
"""

from __future__ import annotations

import json

from ..store.errors import StoreError
from ..store.table_store import TableStore
from .delivery import Delivery, NotificationOutcome
from .messages import Message

PENDING, SENT, FAILED = "pending", "sent", "failed"


def open_outbox(url: str) -> StoreOutbox:
    """The notifications tables of the store a URL names (created and migrated as needed)."""
    return StoreOutbox.open(url)


class StoreOutbox(TableStore):
    """Safe to share between threads (the channels' threads record through it); the plumbing is TableStore's."""

    def add(self, delivery: Delivery, at: float) -> int:
        m = delivery.message
        message = json.dumps({"title": m.title, "text": m.text, "markdown": m.markdown, "escalation": m.escalation},
                             ensure_ascii=False)
        params = (delivery.key, delivery.kind, delivery.channel, ",".join(delivery.recipients), message,
                  json.dumps(delivery.event, ensure_ascii=False), delivery.drill, at, PENDING)
        return int(self._write(lambda run: run(
            "INSERT INTO notifications (event_key, kind, channel, recipients, message, event, drill, created_at, "
            "status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", params).fetchone()["id"]))

    def record(self, delivery_id: int, outcome: NotificationOutcome) -> None:
        def write(run):
            run("INSERT INTO notification_attempts (notification_id, attempt, channel, recipient, sent_at, ok, error, "
                "escalation) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (delivery_id, outcome.attempt, outcome.channel, outcome.recipient, outcome.sent_at, outcome.ok,
                 outcome.error, outcome.escalation))
            if outcome.final:
                run("UPDATE notifications SET attempts = ?, status = ?, done_at = ? WHERE id = ?",
                    (outcome.attempt, SENT if outcome.ok else FAILED, outcome.sent_at, delivery_id))
            else:
                run("UPDATE notifications SET attempts = ? WHERE id = ?", (outcome.attempt, delivery_id))
        self._write(write)

    def pending(self) -> list[Delivery]:
        rows = self._read("SELECT * FROM notifications WHERE status = ? ORDER BY id", (PENDING,))
        out = []
        for r in rows:
            m = json.loads(r["message"])
            out.append(Delivery(key=r["event_key"], kind=r["kind"], channel=r["channel"],
                                recipients=tuple(x for x in r["recipients"].split(",") if x),
                                message=Message(m["title"], m["text"], m["markdown"], int(m["escalation"])),
                                event=json.loads(r["event"]), drill=bool(r["drill"]), id=int(r["id"])))
        return out

    def status(self, delivery_id: int) -> str:
        rows = self._read("SELECT status FROM notifications WHERE id = ?", (delivery_id,))
        if not rows:
            raise StoreError(f"no notification {delivery_id}")
        return rows[0]["status"]

    def purge_delivered(self, before: float) -> int:
        """Retention: messages delivered (``sent``) before ``before``, with their attempts. A pending or failed
        one (never delivered: someone was not told) is kept. How many."""
        return self._write(lambda run: run("DELETE FROM notifications WHERE status = ? AND done_at < ?",
                                           (SENT, float(before))).rowcount)

    def by_kind(self, kind: str, since: float | None = None, until: float | None = None) -> list[dict]:
        """The messages of one event kind created in [since, until), oldest first: id, key, channel, status,
        created_at, done_at, attempts, drill, and the event as sent (``sent_home``: the class and the name)."""
        where: list[str] = ["kind = ?"]
        params: list[object] = [kind]
        for op, v in ((">=", since), ("<", until)):
            if v is not None:
                where.append(f"created_at {op} ?")
                params.append(v)
        rows = self._read(f"SELECT id, event_key, channel, status, created_at, done_at, attempts, drill, event "
                          f"FROM notifications WHERE {' AND '.join(where)} ORDER BY created_at, id", tuple(params))
        return [{"id": int(r["id"]), "key": r["event_key"], "channel": r["channel"], "status": r["status"],
                 "created_at": r["created_at"], "done_at": r["done_at"], "attempts": int(r["attempts"]),
                 "drill": bool(r["drill"]), "event": json.loads(r["event"])} for r in rows]

    def history(self, key: str) -> list[NotificationOutcome]:
        """Every attempt for the event ``key``, in order (the case's record of who was told, and whether)."""
        rows = self._read(
            "SELECT a.*, n.event_key, n.drill, n.status FROM notification_attempts a "
            "JOIN notifications n ON n.id = a.notification_id WHERE n.event_key = ? ORDER BY a.id", (key,))
        return [NotificationOutcome(key=r["event_key"], channel=r["channel"], recipient=r["recipient"],
                                    sent_at=r["sent_at"], ok=bool(r["ok"]), error=r["error"], attempt=int(r["attempt"]),
                                    final=bool(r["ok"]) or r["status"] == FAILED and _last(rows, r),
                                    escalation=int(r["escalation"]), drill=bool(r["drill"])) for r in rows]


def _last(rows: list, row) -> bool:
    """Whether ``row`` is its notification's last attempt (so, for a failed one, the final)."""
    return max(int(r["attempt"]) for r in rows if r["notification_id"] == row["notification_id"]) == int(row["attempt"])
