"""The ``[notify]`` table of ``controller.toml``: channels, contacts, routes (docs/notifications.md).

```toml
[notify]
timeout_s = 5.0                  # one attempt's limit, in all
attempts = 4                     # per message and channel, then it counts as failed
backoff_s = 2.0                  # the wait before the 2nd attempt, doubled before each next

[notify.channels.group]          # a 企业微信 group robot
type = "wecom"                   # webhook | wecom | dingtalk | smtp
key_file = "/etc/thermogate/wecom-key"

[notify.contacts.dr-wang]
name = "王医生"
mobile = "13800001111"
channels = ["group"]

[[notify.route]]
event = "fever"                  # fever | sent_home | report
to = ["dr-wang", "leader-li"]
escalate_after_s = 120
escalate_to = ["dr-zhao", "principal"]
```

Secrets (robot keys, signing secrets, the SMTP login) are read from files of
their own, never written in controller.toml; relative paths are relative to
the config file. Every problem is a ``ConfigError`` naming the key.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from ..config_fields import ConfigError, Field, read_table, table_of
from .events import EventKind

CLASS_TEACHER = "@class_teacher"  # in a route's `to`: the contacts whose `classes` hold the event's class
REPORTER = "@reporter"  # in a route's `to`: the contact the event names as its reporter
ROLES = (CLASS_TEACHER, REPORTER)

WECOM_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
DINGTALK_URL = "https://oapi.dingtalk.com/robot/send"

NOTIFY_FIELDS = (
    Field("timeout_s", float, 5.0, lo=0.2, hi=60, unit="s"),
    Field("attempts", int, 4, lo=1, hi=20),
    Field("backoff_s", float, 2.0, lo=0.01, hi=600, unit="s"),
    Field("channels", dict, {}),
    Field("contacts", dict, {}),
    Field("route", list, ()),
)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_MOBILE = re.compile(r"\+?[0-9]{5,15}")
_EMAIL = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")


@dataclass(frozen=True)
class WebhookConfig:
    """A generic webhook: the event as JSON, signed with ``secret`` when there is one."""

    name: str
    url: str
    secret: str = ""


@dataclass(frozen=True)
class WeComConfig:
    """A 企业微信 group robot: ``url?key=<key>``; ``format`` text (with @mobile) or markdown."""

    name: str
    key: str
    url: str = WECOM_URL
    format: str = "text"


@dataclass(frozen=True)
class DingTalkConfig:
    """A 钉钉 group robot: ``url?access_token=...``, signed (timestamp, sign) when ``secret`` is set."""

    name: str
    access_token: str
    secret: str = ""
    url: str = DINGTALK_URL
    format: str = "text"


@dataclass(frozen=True)
class SmtpConfig:
    """E-mail through an SMTP server, always with STARTTLS; ``ca_file`` trusts a school's own CA."""

    name: str
    host: str
    sender: str
    port: int = 587
    user: str = ""
    password: str = ""
    ca_file: str = ""


ChannelConfig = WebhookConfig | WeComConfig | DingTalkConfig | SmtpConfig


@dataclass(frozen=True)
class Contact:
    """A person who may be told: where (``channels``), how to @ them (``mobile``), their e-mail,
    and the classes they teach (for ``@class_teacher``)."""

    id: str
    name: str
    channels: tuple[str, ...]
    mobile: str = ""
    email: str = ""
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    """Who hears of an event kind: ``to`` at once; when nobody acknowledges within
    ``escalate_after_s``, the next of ``escalate_to``, one after another."""

    event: EventKind
    to: tuple[str, ...]
    escalate_after_s: float | None = None
    escalate_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotifyConfig:
    timeout_s: float = 5.0
    attempts: int = 4
    backoff_s: float = 2.0
    channels: dict[str, ChannelConfig] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.routes)

    def routes_for(self, kind: EventKind) -> tuple[Route, ...]:
        return tuple(r for r in self.routes if r.event is kind)


def _secret_file(table: dict, key: str, section: str, where: str, base: Path, *, required: bool) -> str:
    """A secret from ``<key>_file`` (first line, stripped); the secret itself may not be written here."""
    if key in table:
        raise ConfigError(f"{where}{section}.{key}: put it in a file of its own and give {key}_file")
    name = table.get(f"{key}_file", "")
    if not isinstance(name, str):
        raise ConfigError(f"{where}{section}.{key}_file must be a path")
    if not name:
        if required:
            raise ConfigError(f"{where}{section}: {key}_file is required")
        return ""
    try:
        value = (base / name).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{where}{section}.{key}_file {name}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{where}{section}.{key}_file {name!r}: {exc}") from None
    if not value:
        raise ConfigError(f"{where}{section}.{key}_file {name}: the file is empty")
    return value


def _url(value: object, key: str, where: str) -> str:
    """An https URL, or http to this machine only (a local relay, or a test's receiver)."""
    if not isinstance(value, str):
        raise ConfigError(f"{where}{key} must be a URL")
    try:
        parts = urllib.parse.urlsplit(value)
        host = parts.hostname
    except ValueError:  # "https://[::1" and the like
        raise ConfigError(f"{where}{key} = {value!r}: not a URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"{where}{key} = {value!r}: must be an https:// URL")
    if parts.scheme == "http" and not _loopback(host):
        raise ConfigError(f"{where}{key} = {value!r}: plain http only to this machine; use https://")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _channel(name: str, table: object, where: str, base: Path) -> ChannelConfig:
    section = f"notify.channels.{name}"
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{where}{section}: a channel name is letters, digits, - and _")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}{section} must be a table")
    kind = table.get("type")
    rest = {k: v for k, v in table.items() if k != "type"}
    for secret in ("secret", "key", "access_token", "login", "password"):
        if secret in rest:
            raise ConfigError(f"{where}{section}.{secret}: put it in a file of its own and give "
                              f"{'login' if secret == 'password' else secret}_file")
    doc = {section: rest}
    if kind == "webhook":
        t = read_table(doc, section, (Field("url", str, ""), Field("secret_file", str, "")), where)
        return WebhookConfig(name, _url(t["url"], f"{section}.url", where),
                             _secret_file(rest, "secret", section, where, base, required=False))
    if kind in ("wecom", "dingtalk"):
        default = WECOM_URL if kind == "wecom" else DINGTALK_URL
        token = "key" if kind == "wecom" else "access_token"
        fields = (Field("url", str, default), Field(f"{token}_file", str, ""),
                  Field("format", str, "text", check=lambda v: v in ("text", "markdown"),
                        hint='must be "text" or "markdown"'))
        if kind == "dingtalk":
            fields += (Field("secret_file", str, ""),)
        t = read_table(doc, section, fields, where)
        url = _url(t["url"], f"{section}.url", where)
        if urllib.parse.urlsplit(url).query:
            raise ConfigError(f"{where}{section}.url: give the robot's address without ?{token}=; "
                              f"the {token} goes in {token}_file")
        secret = _secret_file(rest, token, section, where, base, required=True)
        if kind == "wecom":
            return WeComConfig(name, key=secret, url=url, format=t["format"])
        return DingTalkConfig(name, access_token=secret, url=url, format=t["format"],
                              secret=_secret_file(rest, "secret", section, where, base, required=False))
    if kind == "smtp":
        t = read_table(doc, section, (
            Field("host", str, "", check=bool, hint="must not be empty"),
            Field("port", int, 587, lo=1, hi=65535),
            Field("from", str, "", check=lambda v: bool(_EMAIL.fullmatch(v)), hint="must be an e-mail address"),
            Field("login_file", str, ""),
            Field("ca_file", str, ""),
        ), where)
        if not t["from"]:
            raise ConfigError(f"{where}{section}.from is required (the sender's address)")
        user = password = ""
        if t["login_file"]:
            login = _secret_file(rest, "login", section, where, base, required=True).splitlines()
            if len(login) != 2 or not login[0].strip() or not login[1]:
                raise ConfigError(f"{where}{section}.login_file: two lines, the user and then the password")
            user, password = login[0].strip(), login[1]
        ca = ""
        if t["ca_file"]:
            if not (base / t["ca_file"]).is_file():
                raise ConfigError(f"{where}{section}.ca_file {t['ca_file']}: no such file")
            ca = str(base / t["ca_file"])
        return SmtpConfig(name, host=t["host"], port=t["port"], sender=t["from"], user=user, password=password,
                          ca_file=ca)
    raise ConfigError(f"{where}{section}.type = {kind!r}: must be one of webhook, wecom, dingtalk, smtp")


def _strings(value: object, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}{key} must be a list of names")
    return tuple(value)


def _contact(cid: str, table: object, channels: dict[str, ChannelConfig], where: str) -> Contact:
    section = f"notify.contacts.{cid}"
    if not _NAME.fullmatch(cid):
        raise ConfigError(f"{where}{section}: a contact id is letters, digits, - and _")
    t = read_table({section: table}, section, (
        Field("name", str, "", check=lambda v: bool(v.strip()) and v.isprintable() and len(v) <= 64,
              hint="must be printable text of 1-64 characters"),
        Field("mobile", str, "", check=lambda v: not v or bool(_MOBILE.fullmatch(v)), hint="must be a phone number"),
        Field("email", str, "", check=lambda v: not v or bool(_EMAIL.fullmatch(v)), hint="must be an e-mail address"),
        Field("channels", list, ()),
        Field("classes", list, ()),
    ), where)
    if not t["name"]:
        raise ConfigError(f"{where}{section}.name is required")
    names = _strings(t["channels"], f"{section}.channels", where)
    if not names:
        raise ConfigError(f"{where}{section}.channels: name at least one channel")
    for ch in names:
        if ch not in channels:
            raise ConfigError(f"{where}{section}.channels: no channel {ch!r} in [notify.channels]")
        if isinstance(channels[ch], SmtpConfig) and not t["email"]:
            raise ConfigError(f"{where}{section}: channel {ch!r} is e-mail, so the contact needs an email")
    return Contact(id=cid, name=t["name"].strip(), channels=names, mobile=t["mobile"], email=t["email"],
                   classes=_strings(t["classes"], f"{section}.classes", where))


def _route(i: int, table: object, contacts: dict[str, Contact], where: str) -> Route:
    section = f"notify.route[{i}]"
    t = read_table({section: table}, section, (
        Field("event", str, "", check=lambda v: v in {k.value for k in EventKind},
              hint="must be " + ", ".join(k.value for k in EventKind)),
        Field("to", list, ()),
        Field("escalate_after_s", (int, float), 0.0, lo=0, hi=86400, unit="s"),
        Field("escalate_to", list, ()),
    ), where)
    if not t["event"]:
        raise ConfigError(f"{where}{section}.event is required")
    to = _strings(t["to"], f"{section}.to", where)
    up = _strings(t["escalate_to"], f"{section}.escalate_to", where)
    if not to:
        raise ConfigError(f"{where}{section}.to: name at least one contact")
    for name in to + up:
        if name not in contacts and name not in ROLES:
            raise ConfigError(f"{where}{section}: no contact {name!r} in [notify.contacts] "
                              f"(or one of {', '.join(ROLES)})")
    after = float(t["escalate_after_s"]) or None
    if bool(up) != bool(after):
        raise ConfigError(f"{where}{section}: give escalate_after_s and escalate_to together")
    return Route(event=EventKind(t["event"]), to=to, escalate_after_s=after, escalate_to=up)


def from_table(doc: dict, base: Path | None = None, where: str = "") -> NotifyConfig:
    """``[notify]`` of a parsed controller.toml (``doc``, the whole document); an absent table
    gives a NotifyConfig that notifies nobody. ``base``: where relative paths start."""
    base = base or Path.cwd()
    table_of(doc, "notify", {f.key for f in NOTIFY_FIELDS}, where)
    n = read_table(doc, "notify", NOTIFY_FIELDS, where)
    channels = {name: _channel(name, t, where, base) for name, t in n["channels"].items()}
    contacts = {cid: _contact(cid, t, channels, where) for cid, t in n["contacts"].items()}
    routes = tuple(_route(i, t, contacts, where) for i, t in enumerate(n["route"]))
    return NotifyConfig(timeout_s=n["timeout_s"], attempts=n["attempts"], backoff_s=n["backoff_s"],
                        channels=channels, contacts=contacts, routes=routes)
