"""Each notification channel against a real local receiver: the exact JSON, the signatures, e-mail over
STARTTLS, and the answers that count as failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse

import pytest

from controller.notify.channels import DeliveryError, build
from controller.notify.config import Contact, from_table
from controller.notify.events import EventKind, NotifyEvent
from controller.notify.messages import render
from notify_receivers import HttpReceiver, SmtpReceiver, closed_port, self_signed

DOCTOR = Contact("dr-wang", "王医生", ("x",), mobile="13800001111", email="wang@school.example")
LEADER = Contact("leader-li", "李主任", ("x",), mobile="13900002222", email="li@school.example")
FEVER = NotifyEvent(EventKind.FEVER, "alarm-12", time=1764756000.0, gate="东门 1号", estimate_c=37.94)


@pytest.fixture
def receiver():
    r = HttpReceiver()
    yield r
    r.close()


def channel(tmp_path, name: str, table: dict, **files: str):
    for fname, text in files.items():
        (tmp_path / fname).write_text(text)
    config = from_table({"notify": {"channels": {name: table}}}, tmp_path)
    return build(config.channels[name])


def test_webhook_posts_the_event_signed(tmp_path, receiver):
    ch = channel(tmp_path, "ops", {"type": "webhook", "url": receiver.url, "secret_file": "hook.secret"},
                 **{"hook.secret": "a long shared secret\n"})
    message = render(FEVER)
    event = {"kind": "fever", "key": "alarm-12", "time": FEVER.time, "drill": False}
    before = int(time.time())
    ch.send(message, [DOCTOR, LEADER], event=event, timeout=5)
    (req,) = receiver.wait_for(1)
    assert req.path == "/hook"
    assert req.headers["Content-Type"] == "application/json; charset=utf-8"
    assert req.json() == {
        "event": "fever", "key": "alarm-12", "drill": False, "time": 1764756000.0, "escalation": 0,
        "title": message.title, "text": message.text,
        "recipients": [{"id": "dr-wang", "name": "王医生", "mobile": "13800001111"},
                       {"id": "leader-li", "name": "李主任", "mobile": "13900002222"}]}
    stamp = req.headers["X-Thermogate-Timestamp"]
    assert before <= int(stamp) <= time.time() + 1
    expected = hmac.new(b"a long shared secret", stamp.encode() + b"." + req.body, hashlib.sha256).hexdigest()
    assert req.headers["X-Thermogate-Signature"] == "sha256=" + expected
    assert "37.9" in message.text and "东门 1号" in message.text


def test_webhook_without_secret_is_unsigned(tmp_path, receiver):
    ch = channel(tmp_path, "ops", {"type": "webhook", "url": receiver.url})
    ch.send(render(FEVER), [DOCTOR], event={"kind": "fever", "key": "alarm-12"}, timeout=5)
    (req,) = receiver.wait_for(1)
    assert "X-Thermogate-Signature" not in req.headers


def test_wecom_text_mentions_mobiles_and_checks_errcode(tmp_path, receiver):
    ch = channel(tmp_path, "group", {"type": "wecom", "url": receiver.url, "key_file": "wecom.key"},
                 **{"wecom.key": "693a91f6-7xxx-4bc4\n"})
    message = render(FEVER)
    ch.send(message, [DOCTOR, LEADER], event={}, timeout=5)
    (req,) = receiver.wait_for(1)
    assert req.query == {"key": "693a91f6-7xxx-4bc4"}
    assert req.json() == {"msgtype": "text", "text": {"content": message.text,
                                                      "mentioned_mobile_list": ["13800001111", "13900002222"]}}
    receiver.answer = {"errcode": 93000, "errmsg": "invalid webhook url"}
    with pytest.raises(DeliveryError) as failed:
        ch.send(message, [DOCTOR], event={}, timeout=5)
    assert "93000" in failed.value.reason and failed.value.permanent


def test_wecom_markdown(tmp_path, receiver):
    ch = channel(tmp_path, "group", {"type": "wecom", "url": receiver.url, "key_file": "k", "format": "markdown"},
                 k="KEY")
    message = render(FEVER)
    ch.send(message, [DOCTOR, LEADER], event={}, timeout=5)
    body = receiver.wait_for(1)[0].json()
    assert body == {"msgtype": "markdown", "markdown": {"content": message.markdown + "\n\n**王医生、李主任**"}}


def test_wecom_clips_long_text_to_2048_bytes(tmp_path, receiver):
    ch = channel(tmp_path, "group", {"type": "wecom", "url": receiver.url, "key_file": "k"}, k="KEY")
    long = NotifyEvent(EventKind.REPORT, "report-1", time=FEVER.time, text="发热" * 2000, reporter="x")
    ch.send(render(long), [DOCTOR], event={}, timeout=5)
    content = receiver.wait_for(1)[0].json()["text"]["content"]
    assert len(content.encode("utf-8")) <= 2048 and content.endswith("…")


def test_dingtalk_signs_as_documented(tmp_path, receiver):
    secret = "SEC5a3ecf88f2b3eb50db30ecfc00f53033ac909c99bf7f88fd612bda89d7f3a9dc"
    ch = channel(tmp_path, "ding", {"type": "dingtalk", "url": receiver.url, "access_token_file": "t",
                                    "secret_file": "s"}, t="tok123", s=secret)
    message = render(FEVER)
    before = int(time.time() * 1000)
    ch.send(message, [DOCTOR, LEADER], event={}, timeout=5)
    (req,) = receiver.wait_for(1)
    stamp = req.query["timestamp"]
    assert before <= int(stamp) <= time.time() * 1000 + 1000
    # The formula, independently: HMAC-SHA256 keyed with the secret over "<timestamp>\n<secret>", Base64.
    expected = base64.b64encode(hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert req.query["sign"] == expected  # parse_qsl undid the URL-encoding
    assert "sign=" + urllib.parse.quote(expected, safe="") in req.raw_query.split("&")  # percent-encoded
    assert req.query["access_token"] == "tok123"
    assert req.json() == {"msgtype": "text",
                          "text": {"content": message.text + " @13800001111 @13900002222"},
                          "at": {"atMobiles": ["13800001111", "13900002222"], "isAtAll": False}}


def test_dingtalk_sign_is_url_encoded_on_the_wire(tmp_path):
    # A sign with + / = must reach the robot percent-encoded, or it would decode to another value.
    from controller.notify.config import DingTalkConfig
    from controller.notify.robots import DingTalkChannel, dingtalk_sign

    ch = DingTalkChannel(DingTalkConfig("d", access_token="t", secret="s"), wall=lambda: 1700000000.123)
    query = urllib.parse.urlsplit(ch.url()).query
    sign = dingtalk_sign("s", 1700000000123)
    assert "timestamp=1700000000123" in query
    assert "sign=" + urllib.parse.quote(sign, safe="") in query
    assert urllib.parse.parse_qs(query)["sign"] == [sign]


def test_dingtalk_markdown_and_errcode(tmp_path, receiver):
    ch = channel(tmp_path, "ding", {"type": "dingtalk", "url": receiver.url, "access_token_file": "t",
                                    "format": "markdown"}, t="tok")
    message = render(FEVER)
    receiver.answer = {"errcode": 310000, "errmsg": "sign not match"}
    with pytest.raises(DeliveryError) as failed:
        ch.send(message, [DOCTOR], event={}, timeout=5)
    assert failed.value.permanent and "310000" in failed.value.reason
    (req,) = receiver.wait_for(1)
    assert "sign" not in req.query and "timestamp" not in req.query  # no secret, no signing
    assert req.json() == {"msgtype": "markdown",
                          "markdown": {"title": message.title, "text": message.markdown + "\n\n @13800001111"},
                          "at": {"atMobiles": ["13800001111"], "isAtAll": False}}


@pytest.mark.parametrize("mode,reason,permanent", [("fail", "HTTP 500", False), ("hang", "no answer within", False)])
def test_http_faults(tmp_path, receiver, mode, reason, permanent):
    receiver.mode = mode
    ch = channel(tmp_path, "ops", {"type": "webhook", "url": receiver.url})
    start = time.monotonic()
    with pytest.raises(DeliveryError) as failed:
        ch.send(render(FEVER), [DOCTOR], event={}, timeout=0.5)
    assert reason in failed.value.reason and failed.value.permanent is permanent
    assert time.monotonic() - start < 3


def test_unreachable(tmp_path):
    ch = channel(tmp_path, "ops", {"type": "webhook", "url": f"http://127.0.0.1:{closed_port()}/hook"})
    with pytest.raises(DeliveryError) as failed:
        ch.send(render(FEVER), [DOCTOR], event={}, timeout=1)
    assert "unreachable" in failed.value.reason and not failed.value.permanent


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return self_signed(tmp_path_factory.mktemp("tls"))


def smtp_channel(tmp_path, port: int, cert_path, login="thermogate\ns3cret pass\n"):
    (tmp_path / "smtp.login").write_text(login)
    return channel(tmp_path, "mail", {"type": "smtp", "host": "127.0.0.1", "port": port,
                                      "from": "thermogate@school.example", "login_file": "smtp.login",
                                      "ca_file": str(cert_path)})


def test_email_over_starttls(tmp_path, cert):
    server = SmtpReceiver(*cert)
    try:
        ch = smtp_channel(tmp_path, server.port, cert[0])
        message = render(NotifyEvent(EventKind.FEVER, "alarm-7", time=FEVER.time, gate="北门", drill=True))
        ch.send(message, [DOCTOR, LEADER], event={}, timeout=5)
        ((_, sender, rcpts, mail, tls),) = server.wait_for(1)
        assert tls, "the message went before STARTTLS"
        assert server.logins == ["thermogate"]
        assert sender == "thermogate@school.example"
        assert rcpts == ["wang@school.example", "li@school.example"]
        assert mail["Subject"] == message.title and mail["Subject"].startswith("【演练】")
        assert mail.get_content().replace("\r\n", "\n").strip() == message.text
    finally:
        server.close()


def test_email_refused_550_is_permanent(tmp_path, cert):
    server = SmtpReceiver(*cert, refuse=True)
    try:
        ch = smtp_channel(tmp_path, server.port, cert[0])
        with pytest.raises(DeliveryError) as failed:
            ch.send(render(FEVER), [DOCTOR], event={}, timeout=5)
        assert failed.value.permanent and "550" in failed.value.reason
        assert server.messages == []
    finally:
        server.close()


def test_email_wrong_login_and_untrusted_certificate(tmp_path, cert):
    server = SmtpReceiver(*cert)
    try:
        with pytest.raises(DeliveryError) as failed:
            smtp_channel(tmp_path, server.port, cert[0], login="thermogate\nwrong\n").send(
                render(FEVER), [DOCTOR], event={}, timeout=5)
        assert "535" in failed.value.reason and failed.value.permanent
        other = self_signed(tmp_path)  # a CA that did not sign the server's certificate
        with pytest.raises(DeliveryError) as failed:
            smtp_channel(tmp_path, server.port, other[0]).send(render(FEVER), [DOCTOR], event={}, timeout=5)
        assert "TLS failed" in failed.value.reason
        assert server.messages == []
    finally:
        server.close()


def test_email_server_unreachable(tmp_path, cert):
    with pytest.raises(DeliveryError) as failed:
        smtp_channel(tmp_path, closed_port(), cert[0]).send(render(FEVER), [DOCTOR], event={}, timeout=2)
    assert not failed.value.permanent


def test_plain_json_bytes(tmp_path, receiver):
    # Chinese text goes as UTF-8, not \\u escapes: what the robots document and what a person reading a log wants.
    ch = channel(tmp_path, "group", {"type": "wecom", "url": receiver.url, "key_file": "k"}, k="KEY")
    ch.send(render(FEVER), [DOCTOR], event={}, timeout=5)
    body = receiver.wait_for(1)[0].body
    assert "东门".encode() in body and json.loads(body)
