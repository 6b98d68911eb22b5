"""The Notifier end to end against real local receivers: routing, drills, retries, faults, escalation.

Each fault (an HTTP 500, a receiver that hangs, a closed port, an SMTP server that refuses) must leave the
alarm delivered where it can be, every attempt recorded as failed, and the failure callback asking a
person to call."""

from __future__ import annotations

import threading
import time

import pytest

from controller.notify import EventKind, NotificationFailure, Notifier, NotifyEvent, from_table
from notify_receivers import HttpReceiver, SmtpReceiver, closed_port, self_signed


@pytest.fixture
def receivers():
    made: list[HttpReceiver] = []

    def make(mode="ok", answer=None):
        made.append(HttpReceiver(mode, answer))
        return made[-1]

    yield make
    for r in made:
        r.close()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def notify_config(tmp_path, channels: dict, *, contacts=None, routes=None, **top):
    (tmp_path / "wecom.key").write_text("KEY\n")
    doc = {"notify": {"timeout_s": 0.5, "attempts": 3, "backoff_s": 0.05, **top, "channels": channels,
                      "contacts": contacts or {
                          "dr-wang": {"name": "王医生", "mobile": "13800001111", "channels": ["group"]},
                          "leader-li": {"name": "李主任", "mobile": "13900002222", "channels": ["group"]},
                          "dr-zhao": {"name": "赵医生", "mobile": "13700003333", "channels": ["group"]},
                          "principal": {"name": "校长", "channels": ["group"]},
                          "teacher-chen": {"name": "陈老师", "channels": ["group"], "classes": ["初一(3)班"]},
                          "office": {"name": "办公室", "channels": ["group"]},
                      },
                      "route": routes if routes is not None else [
                          {"event": "fever", "to": ["dr-wang", "leader-li"], "escalate_after_s": 120,
                           "escalate_to": ["dr-zhao", "principal"]},
                          {"event": "sent_home", "to": ["@class_teacher"]},
                          {"event": "report", "to": ["@reporter"]},
                      ]}}
    return from_table(doc, tmp_path)


def wecom(url):
    return {"type": "wecom", "url": url.rsplit("/", 1)[0] + "/wecom", "key_file": "wecom.key"}


class Alerts(list):
    def __call__(self, failure: NotificationFailure):
        self.append(failure)


def fever(key="alarm-12", **kw):
    return NotifyEvent(EventKind.FEVER, key, time=time.time(), gate="东门 1号", estimate_c=37.9, **kw)


def test_fever_reaches_doctor_and_leader_in_one_robot_message(tmp_path, receivers):
    r = receivers()
    alerts = Alerts()
    n = Notifier(notify_config(tmp_path, {"group": wecom(r.url)}), on_failure=alerts).start()
    try:
        assert n.notify(fever()) == 1
        (req,) = r.wait_for(1)
        assert req.path == "/wecom" and req.query == {"key": "KEY"}
        text = req.json()["text"]
        assert text["mentioned_mobile_list"] == ["13800001111", "13900002222"]
        assert "东门 1号" in text["content"] and "37.9" in text["content"]
        assert not text["content"].startswith("【演练】")
        assert n.wait_idle(5)
        (outcome,) = n.outcomes("alarm-12")
        assert outcome.ok and outcome.channel == "group" and outcome.recipient == "dr-wang,leader-li"
        assert outcome.attempt == 1 and outcome.final and outcome.error == ""
        assert abs(outcome.sent_at - time.time()) < 5
        assert alerts == []
    finally:
        n.close()


def test_drill_is_prefixed_everywhere(tmp_path, receivers):
    r = receivers()
    config = notify_config(tmp_path, {"group": wecom(r.url), "ops": {"type": "webhook", "url": r.url}},
                           contacts={"dr-wang": {"name": "王医生", "channels": ["group", "ops"]}},
                           routes=[{"event": "fever", "to": ["dr-wang"]}])
    n = Notifier(config, on_failure=Alerts()).start()
    try:
        n.notify(fever(drill=True))
        bodies = {req.path: req.json() for req in r.wait_for(2)}
        assert bodies["/wecom"]["text"]["content"].startswith("【演练】")
        assert bodies["/hook"]["drill"] is True and bodies["/hook"]["title"].startswith("【演练】")
        assert bodies["/hook"]["text"].startswith("【演练】")
    finally:
        n.close()


def test_sent_home_goes_to_the_class_teacher_and_report_to_the_reporter(tmp_path, receivers):
    r = receivers()
    alerts = Alerts()
    contacts = {"teacher-chen": {"name": "陈老师", "channels": ["ops"], "classes": ["初一(3)班"]},
                "teacher-liu": {"name": "刘老师", "channels": ["ops"], "classes": ["初二(1)班"]},
                "office": {"name": "办公室", "channels": ["ops"]}}
    routes = [{"event": "sent_home", "to": ["@class_teacher"]}, {"event": "report", "to": ["@reporter"]}]
    n = Notifier(notify_config(tmp_path, {"ops": {"type": "webhook", "url": r.url}}, contacts=contacts,
                               routes=routes), on_failure=alerts).start()
    try:
        n.notify(NotifyEvent(EventKind.SENT_HOME, "case-3", time=time.time(), class_name="初一(3)班", person="张三"))
        n.notify(NotifyEvent(EventKind.REPORT, "report-9", time=time.time(), reporter="office", text="今日筛查 412 人"))
        first, second = (req.json() for req in r.wait_for(2))
        assert first["event"] == "sent_home" and [p["id"] for p in first["recipients"]] == ["teacher-chen"]
        assert "初一(3)班 张三" in first["text"]
        assert second["event"] == "report" and [p["id"] for p in second["recipients"]] == ["office"]
        assert "今日筛查 412 人" in second["text"]
        # A class nobody teaches: nobody to tell is a failure, raised at once.
        assert n.notify(NotifyEvent(EventKind.SENT_HOME, "case-4", time=time.time(), class_name="高三(9)班")) == 0
        (failure,) = alerts
        assert failure.key == "case-4" and "no class teacher for class 高三(9)班" in failure.detail
    finally:
        n.close()


def test_fever_message_names_no_person(tmp_path, receivers):
    r = receivers()
    n = Notifier(notify_config(tmp_path, {"group": wecom(r.url)}), on_failure=Alerts()).start()
    try:
        n.notify(NotifyEvent(EventKind.FEVER, "alarm-5", time=time.time(), gate="东门", estimate_c=38.1,
                             person="张三", class_name="初一(3)班"))
        content = r.wait_for(1)[0].json()["text"]["content"]
        assert "张三" not in content and "初一" not in content
    finally:
        n.close()


@pytest.mark.parametrize("fault", ["fail", "hang", "closed", "errcode", "trickle"])
def test_http_fault_loses_nothing_and_alerts(tmp_path, receivers, fault):
    good = receivers()
    bad = receivers(fault if fault in ("hang", "fail", "trickle") else "ok",
                    answer={"errcode": 45009, "errmsg": "api freq out of limit"} if fault == "errcode" else None)
    url = f"http://127.0.0.1:{closed_port()}/hook" if fault == "closed" else bad.url
    config = notify_config(tmp_path, {"group": wecom(url), "ops": {"type": "webhook", "url": good.url}},
                           contacts={"dr-wang": {"name": "王医生", "mobile": "13800001111",
                                                 "channels": ["group", "ops"]}},
                           routes=[{"event": "fever", "to": ["dr-wang"]}])
    alerts = Alerts()
    fired = threading.Event()
    n = Notifier(config, on_failure=lambda f: (alerts.append(f), fired.set())).start()
    try:
        start = time.monotonic()
        n.notify(fever())
        (req,) = good.wait_for(1)  # the other channel is not held up by the failing one
        assert req.at - start < 0.4
        assert fired.wait(10)
        assert n.wait_idle(5)
        failed = [o for o in n.outcomes("alarm-12") if o.channel == "group"]
        assert all(not o.ok and o.error for o in failed)
        assert [o.attempt for o in failed] == [1, 2, 3] and [o.final for o in failed] == [False, False, True]
        assert [o.ok for o in n.outcomes("alarm-12") if o.channel == "ops"] == [True]
        (failure,) = alerts
        assert failure.channel == "group" and failure.recipients == ("王医生 13800001111",)
        assert failure.detail.startswith("call 王医生 13800001111: notification failed (fever alarm-12 over group")
        expected = {"fail": "HTTP 500", "hang": "no answer within 0.5 s", "closed": "unreachable",
                    "errcode": "errcode 45009", "trickle": "no answer within 0.5 s"}[fault]
        assert expected in failure.error
        if fault != "closed":
            assert len(bad.requests) == 3  # every attempt reached the receiver
        # backoff: 0.05 s, then 0.1 s between the attempts
        gaps = [b.sent_at - a.sent_at for a, b in zip(failed, failed[1:], strict=False)]
        assert gaps[0] >= 0.04 and gaps[1] >= 0.09
        if fault in ("hang", "trickle"):  # each attempt ends at timeout_s, whatever the receiver does
            assert all(gap < 0.5 + 0.1 + 0.5 for gap in gaps)
    finally:
        n.close()


def test_a_receiver_that_recovers_gets_the_message_without_an_alert(tmp_path, receivers):
    r = receivers("fail")
    alerts = Alerts()
    config = notify_config(tmp_path, {"group": wecom(r.url)}, backoff_s=0.3,
                           routes=[{"event": "fever", "to": ["dr-wang"]}])
    n = Notifier(config, on_failure=alerts).start()
    try:
        n.notify(fever())
        r.wait_for(1)
        r.mode = "ok"
        r.wait_for(2)
        assert n.wait_idle(5)
        assert [(o.attempt, o.ok) for o in n.outcomes()] == [(1, False), (2, True)]
        assert alerts == []
    finally:
        n.close()


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return self_signed(tmp_path_factory.mktemp("tls"))


def test_smtp_refusal_alerts_after_one_attempt(tmp_path, cert, receivers):
    server = SmtpReceiver(*cert, refuse=True)
    (tmp_path / "login").write_text("thermogate\ns3cret pass\n")
    hook = receivers()
    config = notify_config(
        tmp_path, {"mail": {"type": "smtp", "host": "127.0.0.1", "port": server.port, "from": "tg@school.example",
                            "login_file": "login", "ca_file": str(cert[0])},
                   "ops": {"type": "webhook", "url": hook.url}},
        contacts={"dr-wang": {"name": "王医生", "email": "wang@school.example", "channels": ["mail", "ops"]}},
        routes=[{"event": "fever", "to": ["dr-wang"]}])
    alerts = Alerts()
    n = Notifier(config, on_failure=alerts).start()
    try:
        n.notify(fever())
        hook.wait_for(1)
        assert n.wait_idle(10)
        mail = [o for o in n.outcomes() if o.channel == "mail"]
        assert len(mail) == 1 and not mail[0].ok and mail[0].final and "550" in mail[0].error  # permanent: no retry
        (failure,) = alerts
        assert failure.detail.startswith("call 王医生: notification failed (fever alarm-12 over mail")
    finally:
        n.close()
        server.close()


def test_smtp_delivers_through_the_notifier(tmp_path, cert):
    server = SmtpReceiver(*cert)
    (tmp_path / "login").write_text("thermogate\ns3cret pass\n")
    config = notify_config(
        tmp_path, {"mail": {"type": "smtp", "host": "127.0.0.1", "port": server.port, "from": "tg@school.example",
                            "login_file": "login", "ca_file": str(cert[0])}},
        contacts={"teacher-chen": {"name": "陈老师", "email": "chen@school.example", "channels": ["mail"],
                                   "classes": ["初一(3)班"]}},
        routes=[{"event": "sent_home", "to": ["@class_teacher"]}])
    n = Notifier(config, on_failure=Alerts()).start()
    try:
        n.notify(NotifyEvent(EventKind.SENT_HOME, "case-3", time=time.time(), class_name="初一(3)班", person="张三",
                             drill=True))
        ((_, _, rcpts, mail, tls),) = server.wait_for(1)
        assert tls and rcpts == ["chen@school.example"] and mail["Subject"] == "【演练】离校观察 初一(3)班 张三"
        assert n.wait_idle(5) and [o.ok for o in n.outcomes()] == [True]
    finally:
        n.close()
        server.close()


def test_escalation_follows_the_clock(tmp_path, receivers):
    r = receivers()
    clock = Clock()
    n = Notifier(notify_config(tmp_path, {"group": wecom(r.url)}), on_failure=Alerts(), clock=clock).start()
    try:
        n.notify(fever("alarm-1"))
        r.wait_for(1)
        clock.now += 119.9
        assert n.poll_escalations() == 0
        clock.now += 0.1  # 120 s without an acknowledgement: the next on call
        assert n.poll_escalations() == 1
        second = r.wait_for(2)[1].json()["text"]
        assert second["mentioned_mobile_list"] == ["13700003333"] and "1 次无人确认" in second["content"]
        clock.now += 120
        assert n.poll_escalations() == 1
        third = r.wait_for(3)[2].json()["text"]
        assert "mentioned_mobile_list" not in third and "2 次无人确认" in third["content"]  # the principal: no mobile
        clock.now += 1000
        assert n.poll_escalations() == 0  # nobody left on the list
        assert n.wait_idle(5)
        assert [o.escalation for o in n.outcomes("alarm-1")] == [0, 1, 2]
        assert len(r.requests) == 3
    finally:
        n.close()


def test_acknowledged_alarm_does_not_escalate(tmp_path, receivers):
    r = receivers()
    clock = Clock()
    n = Notifier(notify_config(tmp_path, {"group": wecom(r.url)}), on_failure=Alerts(), clock=clock).start()
    try:
        n.notify(fever("alarm-1"))
        n.notify(fever("alarm-2"))
        r.wait_for(2)
        clock.now += 60
        assert n.acknowledge("alarm-1") is True
        assert n.acknowledge("alarm-1") is False
        clock.now += 60
        assert n.poll_escalations() == 1  # only alarm-2 goes up
        assert "alarm-2" in r.wait_for(3)[2].json()["text"]["content"]
        assert n.wait_idle(5)
        assert len(r.requests) == 3
    finally:
        n.close()


def test_escalation_in_real_time(tmp_path, receivers):
    r = receivers()
    config = notify_config(tmp_path, {"group": wecom(r.url)}, routes=[
        {"event": "fever", "to": ["dr-wang"], "escalate_after_s": 0.4, "escalate_to": ["dr-zhao"]}])
    n = Notifier(config, on_failure=Alerts(), tick_s=0.02).start()
    try:
        n.notify(fever())
        first, second = r.wait_for(2, timeout=5)
        assert 0.35 <= second.at - first.at < 1.0
        assert second.json()["text"]["mentioned_mobile_list"] == ["13700003333"]
    finally:
        n.close()


def test_a_failing_callback_or_channel_bug_stops_nothing(tmp_path, receivers):
    r = receivers()

    class Broken:
        name = "group"

        def send(self, *a, **kw):
            raise RuntimeError("a bug")

    def bad_callback(failure):
        raise RuntimeError("the console is down")

    config = notify_config(tmp_path, {"group": wecom(r.url), "ops": {"type": "webhook", "url": r.url}},
                           contacts={"dr-wang": {"name": "王医生", "channels": ["group", "ops"]}},
                           routes=[{"event": "fever", "to": ["dr-wang"]}], attempts=1)
    n = Notifier(config, on_failure=bad_callback, channels={"group": Broken()}).start()
    try:
        n.notify(fever("alarm-1"))
        n.notify(fever("alarm-2"))
        r.wait_for(2)
        assert n.wait_idle(5)
        outcomes = n.outcomes()
        assert sorted((o.key, o.channel, o.ok) for o in outcomes) == [
            ("alarm-1", "group", False), ("alarm-1", "ops", True),
            ("alarm-2", "group", False), ("alarm-2", "ops", True)]
        assert all("RuntimeError: a bug" in o.error for o in outcomes if not o.ok)
    finally:
        n.close()


def test_an_alarm_acknowledged_elsewhere_stops_escalating(tmp_path, receivers):
    from controller.notify.events import alarm_id_of

    r = receivers()
    clock = Clock()
    acknowledged = {7}  # the store says alarm 7 was acknowledged on the console

    def still_open(event):
        if alarm_id_of(event.key) == 8:
            raise RuntimeError("the store is away")  # counts as open: the next person is told
        return alarm_id_of(event.key) not in acknowledged

    n = Notifier(notify_config(tmp_path, {"group": wecom(r.url)}), on_failure=Alerts(), clock=clock,
                 still_open=still_open).start()
    try:
        for alarm_id in (6, 7, 8):
            n.notify(NotifyEvent.fever(alarm_id, time.time(), "东门", 38.0))
        r.wait_for(3)
        clock.now += 120
        assert n.poll_escalations() == 2
        later = [req.json()["text"]["content"] for req in r.wait_for(5)[3:]]
        assert sorted(c.rsplit("编号 ", 1)[1] for c in later) == ["alarm-6", "alarm-8"]
        assert not n.escalations.armed("alarm-7") and n.escalations.armed("alarm-6")
    finally:
        n.close()


def test_a_slow_receiver_within_the_timeout_is_a_delivery(tmp_path, receivers):
    slow = receivers("slow")
    slow.delay = 0.3  # timeout_s is 0.5
    alerts = Alerts()
    n = Notifier(notify_config(tmp_path, {"group": wecom(slow.url)}, routes=[{"event": "fever", "to": ["dr-wang"]}]),
                 on_failure=alerts).start()
    try:
        start = time.monotonic()
        n.notify(fever())
        assert n.wait_idle(5)
        (outcome,) = n.outcomes()
        assert outcome.ok and outcome.attempt == 1 and alerts == []
        assert time.monotonic() - start >= 0.3
        slow.delay = 0.8  # now beyond the timeout: each attempt fails, and the alert follows
        n.notify(fever("alarm-13"))
        assert n.wait_idle(10)
        assert [o.ok for o in n.outcomes("alarm-13")] == [False, False, False]
        assert len(alerts) == 1 and "no answer within 0.5 s" in alerts[0].error
    finally:
        n.close()
