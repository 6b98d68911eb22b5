"""The outbox (migration 5) on SQLite and PostgreSQL: deliveries kept before they are sent, every attempt
recorded, and a restarted controller sending what was still pending."""

from __future__ import annotations

import time

import pytest

from controller.notify import EventKind, Notifier, NotifyEvent, from_table
from controller.notify.outbox import FAILED, PENDING, SENT, StoreOutbox
from controller.store import open_store
from notify_receivers import HttpReceiver


@pytest.fixture
def receiver():
    r = HttpReceiver()
    yield r
    r.close()


def config(tmp_path, url, **top):
    return from_table({"notify": {"timeout_s": 0.5, "attempts": 3, "backoff_s": 0.05, **top,
                                  "channels": {"ops": {"type": "webhook", "url": url}},
                                  "contacts": {"dr-wang": {"name": "王医生", "channels": ["ops"]}},
                                  "route": [{"event": "fever", "to": ["dr-wang"]}]}}, tmp_path)


def fever(key="alarm-12", drill=False):
    return NotifyEvent(EventKind.FEVER, key, time=time.time(), gate="东门", estimate_c=38.0, drill=drill)


def test_every_attempt_is_kept_and_the_end_marked(tmp_path, store_url, receiver):
    store = open_store(store_url)
    outbox = StoreOutbox.beside(store)
    try:
        receiver.mode = "fail"
        failures = []
        n = Notifier(config(tmp_path, receiver.url), on_failure=failures.append, outbox=outbox).start()
        n.notify(fever("alarm-1", drill=True))
        receiver.wait_for(3)
        assert n.wait_idle(5)
        receiver.mode = "ok"
        n.notify(fever("alarm-2"))
        receiver.wait_for(4)
        assert n.wait_idle(5)
        n.close()
        history = outbox.history("alarm-1")
        assert [(o.attempt, o.ok, o.final, o.drill) for o in history] == [
            (1, False, False, True), (2, False, False, True), (3, False, True, True)]
        assert all(o.error == "HTTP 500" and o.channel == "ops" and o.recipient == "dr-wang" for o in history)
        assert [(o.attempt, o.ok, o.final) for o in outbox.history("alarm-2")] == [(1, True, True)]
        rows = store._read("SELECT event_key, status, attempts, drill, done_at FROM notifications ORDER BY id")
        assert [(r["event_key"], r["status"], r["attempts"], bool(r["drill"])) for r in rows] == [
            ("alarm-1", FAILED, 3, True), ("alarm-2", SENT, 1, False)]
        assert all(r["done_at"] is not None for r in rows)
        assert outbox.pending() == [] and len(failures) == 1
    finally:
        store.close()


def test_a_restart_sends_what_was_pending(tmp_path, store_url, receiver):
    receiver.mode = "fail"
    store = open_store(store_url)
    first = Notifier(config(tmp_path, receiver.url, attempts=20, backoff_s=30), on_failure=lambda f: None,
                     outbox=StoreOutbox.beside(store)).start()
    first.notify(fever("alarm-7", drill=True))
    receiver.wait_for(1)  # the first attempt failed; the next waits 30 s
    assert first.wait_idle(0.2) is False
    first.close(timeout=1)  # the controller stops with the message pending
    store.close()

    store = open_store(store_url)
    outbox = StoreOutbox.beside(store)
    try:
        (waiting,) = outbox.pending()
        assert waiting.key == "alarm-7" and waiting.drill and waiting.message.text.startswith("【演练】")
        assert outbox.status(waiting.id) == PENDING
        receiver.mode = "ok"
        second = Notifier(config(tmp_path, receiver.url), on_failure=lambda f: None, outbox=outbox).start()
        again = receiver.wait_for(2)[1].json()
        assert again["key"] == "alarm-7" and again["drill"] is True and again["text"] == waiting.message.text
        assert second.wait_idle(5)
        second.close()
        assert outbox.status(waiting.id) == SENT and outbox.pending() == []
        assert [o.ok for o in outbox.history("alarm-7")] == [False, True]
    finally:
        store.close()


def test_a_store_that_fails_does_not_stop_the_message(tmp_path, receiver):
    class BrokenOutbox:
        def add(self, delivery, at):
            raise OSError("disk full")

        def record(self, delivery_id, outcome):
            raise AssertionError("never called: the delivery has no row")

        def pending(self):
            return []

    n = Notifier(config(tmp_path, receiver.url), on_failure=lambda f: None, outbox=BrokenOutbox()).start()
    try:
        n.notify(fever())
        assert receiver.wait_for(1)[0].json()["key"] == "alarm-12"
        assert n.wait_idle(5) and [o.ok for o in n.outcomes()] == [True]
    finally:
        n.close()
