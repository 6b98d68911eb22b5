"""[notify] in controller.toml: a whole example read through the controller's loader, and each mistake
refused with the key it is about."""

from __future__ import annotations

import textwrap

import pytest

from controller.config_fields import ConfigError
from controller.notify.config import DingTalkConfig, SmtpConfig, WebhookConfig, WeComConfig, from_table
from controller.notify.events import EventKind
from controller.service.config import load_config

EXAMPLE = """
[notify]
timeout_s = 5
attempts = 4
backoff_s = 2.0

[notify.channels.ops]
type = "webhook"
url = "https://ops.school.example/hooks/thermogate"
secret_file = "secrets/webhook-secret"

[notify.channels.wecom]
type = "wecom"
key_file = "secrets/wecom-key"

[notify.channels.ding]
type = "dingtalk"
access_token_file = "secrets/dingtalk-token"
secret_file = "secrets/dingtalk-secret"
format = "markdown"

[notify.channels.mail]
type = "smtp"
host = "smtp.school.example"
from = "thermogate@school.example"
login_file = "secrets/smtp-login"

[notify.contacts.dr-wang]
name = "王医生"
mobile = "13800001111"
email = "wang@school.example"
channels = ["wecom", "mail"]

[notify.contacts.leader-li]
name = "李主任"
mobile = "13900002222"
channels = ["ding"]

[notify.contacts.dr-zhao]
name = "赵医生"
mobile = "13700003333"
channels = ["wecom"]

[notify.contacts.teacher-chen]
name = "陈老师"
email = "chen@school.example"
channels = ["mail"]
classes = ["初一(3)班", "初一(4)班"]

[notify.contacts.office]
name = "办公室"
channels = ["ops"]

[[notify.route]]
event = "fever"
to = ["dr-wang", "leader-li"]
escalate_after_s = 120
escalate_to = ["dr-zhao"]

[[notify.route]]
event = "sent_home"
to = ["@class_teacher"]

[[notify.route]]
event = "report"
to = ["@reporter"]
"""


def write_secrets(tmp_path):
    (tmp_path / "secrets").mkdir(exist_ok=True)
    for name, text in {"webhook-secret": "w-secret", "wecom-key": "wecom-key-1", "dingtalk-token": "ding-token",
                       "dingtalk-secret": "SECabc", "smtp-login": "thermogate\npass word\n"}.items():
        (tmp_path / "secrets" / name).write_text(text + "\n")


def test_the_example_through_the_controllers_loader(tmp_path):
    write_secrets(tmp_path)
    path = tmp_path / "controller.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    n = load_config(path).notify
    assert (n.timeout_s, n.attempts, n.backoff_s) == (5.0, 4, 2.0)
    assert n.channels["ops"] == WebhookConfig("ops", "https://ops.school.example/hooks/thermogate", "w-secret")
    assert n.channels["wecom"] == WeComConfig("wecom", key="wecom-key-1")
    assert n.channels["ding"] == DingTalkConfig("ding", access_token="ding-token", secret="SECabc", format="markdown")
    assert n.channels["mail"] == SmtpConfig("mail", host="smtp.school.example", sender="thermogate@school.example",
                                            port=587, user="thermogate", password="pass word")
    assert n.contacts["teacher-chen"].classes == ("初一(3)班", "初一(4)班")
    fever = n.routes_for(EventKind.FEVER)
    assert len(fever) == 1 and fever[0].to == ("dr-wang", "leader-li") and fever[0].escalate_after_s == 120.0
    assert fever[0].escalate_to == ("dr-zhao",) and n.enabled


def test_no_notify_table_notifies_nobody(tmp_path):
    path = tmp_path / "controller.toml"
    path.write_text("[store]\nurl = 'x.db'\n")
    n = load_config(path).notify
    assert not n.enabled and n.channels == {} and n.routes == ()


def test_a_mistake_names_the_file_and_key(tmp_path):
    path = tmp_path / "controller.toml"
    path.write_text(EXAMPLE, encoding="utf-8")  # the secret files are missing
    with pytest.raises(ConfigError, match=r"controller.toml: notify.channels.ops.secret_file "
                                          r"secrets/webhook-secret: No such file"):
        load_config(path)


def base(channels=None, contacts=None, routes=None, **top):
    return {"notify": {**top, "channels": channels or {"ops": {"type": "webhook", "url": "https://x.example/h"}},
                       "contacts": contacts or {"a": {"name": "A", "channels": ["ops"]}},
                       "route": routes or [{"event": "fever", "to": ["a"]}]}}


@pytest.mark.parametrize("doc,message", [
    (base(attempts=0), r"notify.attempts = 0: must be 1..20"),
    (base(timeout_s=120), r"notify.timeout_s = 120.0: must be 0.2..60 s"),
    (base(unknown=1), r"unknown key\(s\) in \[notify\]: unknown"),
    (base(channels={"ops": {"type": "sms"}}), r"notify.channels.ops.type = 'sms': must be one of webhook"),
    (base(channels={"ops": {"type": "webhook", "url": "http://hooks.example/x"}}),
     r"plain http only to this machine"),
    (base(channels={"ops": {"type": "webhook", "url": "ftp://x"}}), r"must be an https:// URL"),
    (base(channels={"ops": {"type": "webhook", "url": "https://[::1"}}), r"'https://\[::1': not a URL"),
    (base(channels={"ops": {"type": "webhook", "url": "https://x.example", "secret": "inline"}}),
     r"notify.channels.ops.secret: put it in a file of its own and give secret_file"),
    (base(channels={"ops": {"type": "wecom"}}), r"notify.channels.ops: key_file is required"),
    (base(channels={"ops": {"type": "wecom", "key_file": "k",
                            "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"}}),
     r"without \?key="),
    (base(channels={"ops": {"type": "dingtalk", "access_token_file": "k", "format": "card"}}),
     r"notify.channels.ops.format = 'card': must be \"text\" or \"markdown\""),
    (base(channels={"ops": {"type": "smtp", "host": "h"}}), r"notify.channels.ops.from is required"),
    (base(channels={"ops": {"type": "smtp", "host": "h", "from": "a@b.example", "password": "x"}}),
     r"notify.channels.ops.password: put it in a file of its own and give login_file"),
    (base(contacts={"a": {"name": "A", "channels": ["nope"]}}), r"notify.contacts.a.channels: no channel 'nope'"),
    (base(contacts={"a": {"name": "A", "channels": []}}), r"notify.contacts.a.channels: name at least one"),
    (base(contacts={"a": {"name": "A", "channels": ["ops"], "mobile": "call me"}}),
     r"notify.contacts.a.mobile = 'call me': must be a phone number"),
    (base(contacts={"a b": {"name": "A", "channels": ["ops"]}}), r"a contact id is letters"),
    (base(routes=[{"event": "fire", "to": ["a"]}]), r"notify.route\[0\].event = 'fire': must be fever"),
    (base(routes=[{"event": "fever", "to": ["b"]}]), r"notify.route\[0\]: no contact 'b'"),
    (base(routes=[{"event": "fever", "to": ["a"], "escalate_to": ["a"]}]),
     r"give escalate_after_s and escalate_to together"),
    (base(routes=[{"event": "fever", "to": []}]), r"notify.route\[0\].to: name at least one contact"),
])
def test_mistakes(tmp_path, doc, message):
    (tmp_path / "k").write_text("key\n")
    with pytest.raises(ConfigError, match=message):
        from_table(doc, tmp_path)


def test_secret_files_must_hold_something_and_smtp_needs_email(tmp_path):
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match=r"key_file empty: the file is empty"):
        from_table(base(channels={"ops": {"type": "wecom", "key_file": "empty"}}), tmp_path)
    (tmp_path / "login").write_text("only-a-user\n")
    with pytest.raises(ConfigError, match=r"login_file: two lines, the user and then the password"):
        from_table(base(channels={"ops": {"type": "smtp", "host": "h", "from": "a@b.example",
                                          "login_file": "login"}}), tmp_path)
    with pytest.raises(ConfigError, match=r"channel 'ops' is e-mail, so the contact needs an email"):
        from_table(base(channels={"ops": {"type": "smtp", "host": "h", "from": "a@b.example"}}), tmp_path)


def test_the_example_in_the_docs_is_this_one():
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "notifications.md").read_text(encoding="utf-8")
    assert textwrap.dedent(EXAMPLE).strip() in doc


def test_any_notify_table_gives_a_config_or_a_config_error(tmp_path):
    """Hostile [notify] tables: whatever the types and names, the loader answers NotifyConfig or ConfigError."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    (tmp_path / "k").write_text("key\n")
    scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                       st.text(max_size=12), st.sampled_from(["k", "ops", "a", "fever", "@class_teacher", "webhook",
                                                              "wecom", "dingtalk", "smtp", "https://x.example/h"]))
    keys = st.sampled_from(["type", "url", "key_file", "access_token_file", "secret_file", "format", "host", "port",
                            "from", "login_file", "ca_file", "name", "mobile", "email", "channels", "classes",
                            "event", "to", "escalate_after_s", "escalate_to", "timeout_s", "attempts", "backoff_s",
                            "x"])
    value = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(keys, inner, max_size=4)), max_leaves=12)
    names = st.sampled_from(["ops", "a", "b", "a b", "", "dr-wang"])
    table = st.fixed_dictionaries({}, optional={
        "timeout_s": value, "attempts": value, "backoff_s": value,
        "channels": st.one_of(value, st.dictionaries(names, st.dictionaries(keys, value, max_size=4), max_size=2)),
        "contacts": st.one_of(value, st.dictionaries(names, st.dictionaries(keys, value, max_size=4), max_size=2)),
        "route": st.one_of(value, st.lists(st.dictionaries(keys, value, max_size=4), max_size=2)),
    })

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(value, table, st.builds(lambda u: base(channels={"ops": {"type": "webhook", "url": u}})["notify"],
                                             st.sampled_from(["https://", "http://", "//", "x"]).flatmap(
                                                 lambda head: st.text(alphabet="[]:@.x1/", max_size=10).map(
                                                     lambda tail: head + tail)))))
    def check(notify):
        try:
            from_table({"notify": notify}, tmp_path)
        except ConfigError:
            pass

    check()
