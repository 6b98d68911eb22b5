"""The 企业微信 (WeCom) and 钉钉 (DingTalk) group robots, by their documented webhook messages.

WeCom: POST to ``<url>?key=<key>``, ``{"msgtype": "text", "text": {"content": ...,
"mentioned_mobile_list": [...]}}`` (at most 2,048 bytes of content) or
``{"msgtype": "markdown", "markdown": {"content": ...}}`` (4,096 bytes; Markdown
cannot @ anyone, so the names are written in it). The answer is
``{"errcode": 0, "errmsg": "ok"}`` when the robot took it.

DingTalk: POST to ``<url>?access_token=...``; with a signing secret also
``&timestamp=<ms>&sign=<s>``, where s is the URL-encoded Base64 of the
HMAC-SHA256, keyed with the secret, of ``<timestamp>\\n<secret>``; the robot
refuses a timestamp more than an hour off its own clock. The body is
``{"msgtype": "text", "text": {"content": ...}, "at": {"atMobiles": [...], "isAtAll": false}}``
or ``{"msgtype": "markdown", "markdown": {"title": ..., "text": ...}, "at": ...}``;
the mobiles also appear as ``@<mobile>`` in the content, which is how the robot
shows the mention. Its answer is ``{"errcode": 0, ...}`` too.

Both robots take at most 20 messages a minute: one message goes to each
channel per event, with every recipient on it mentioned.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Sequence

from .channels import DeliveryError
from .config import Contact, DingTalkConfig, WeComConfig
from .messages import Message
from .webhook import post_json

WECOM_TEXT_BYTES = 2048
WECOM_MARKDOWN_BYTES = 4096
# errcodes that another try cannot fix (the message stops at once); any other errcode, such as a robot's
# rate limit (WeCom 45009, DingTalk 130101), is tried again after the backoff like a 5xx
_DINGTALK_PERMANENT = {310000}  # the signature, the keywords or the IP list does not match the robot's settings
_WECOM_PERMANENT = {93000}  # no such robot: the key is wrong or the robot was removed


def _clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, on a character boundary."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit - 3].decode("utf-8", errors="ignore") + "…"


def _errcode(answer: bytes, robot: str, permanent: set[int]) -> None:
    try:
        doc = json.loads(answer.decode("utf-8"))
        code = int(doc.get("errcode"))
    except (ValueError, TypeError, AttributeError):
        raise DeliveryError(f"{robot} answered without an errcode: {answer[:200]!r}") from None
    if code != 0:
        raise DeliveryError(f"{robot} errcode {code}: {doc.get('errmsg', '')}", permanent=code in permanent)


def _names(recipients: Sequence[Contact]) -> str:
    return "、".join(c.name for c in recipients)


def wecom_body(message: Message, recipients: Sequence[Contact], fmt: str) -> dict:
    """The WeCom robot's JSON for a message to ``recipients``."""
    if fmt == "markdown":
        content = message.markdown + f"\n\n**{_names(recipients)}**"
        return {"msgtype": "markdown", "markdown": {"content": _clip(content, WECOM_MARKDOWN_BYTES)}}
    text: dict = {"content": _clip(message.text, WECOM_TEXT_BYTES)}
    mobiles = [c.mobile for c in recipients if c.mobile]
    if mobiles:
        text["mentioned_mobile_list"] = mobiles
    return {"msgtype": "text", "text": text}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign`` before URL-encoding: Base64 of HMAC-SHA256(secret, "<timestamp>\\n<secret>")."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def dingtalk_body(message: Message, recipients: Sequence[Contact], fmt: str) -> dict:
    """The DingTalk robot's JSON for a message to ``recipients``."""
    mobiles = [c.mobile for c in recipients if c.mobile]
    mention = (" " + " ".join(f"@{m}" for m in mobiles)) if mobiles else ""
    at = {"atMobiles": mobiles, "isAtAll": False}
    if fmt == "markdown":
        text = message.markdown + "\n\n" + mention
        return {"msgtype": "markdown", "markdown": {"title": message.title, "text": text}, "at": at}
    return {"msgtype": "text", "text": {"content": message.text + mention}, "at": at}


class WeComChannel:
    def __init__(self, config: WeComConfig):
        self.name = config.name
        self._config = config

    def send(self, message: Message, recipients: Sequence[Contact], *, event: dict, timeout: float) -> None:
        body = json.dumps(wecom_body(message, recipients, self._config.format), ensure_ascii=False).encode("utf-8")
        url = self._config.url + "?" + urllib.parse.urlencode({"key": self._config.key})
        _, answer = post_json(url, body, timeout=timeout)
        _errcode(answer, "企业微信", _WECOM_PERMANENT)


class DingTalkChannel:
    def __init__(self, config: DingTalkConfig, *, wall=time.time):
        self.name = config.name
        self._config = config
        self._wall = wall

    def url(self) -> str:
        query = {"access_token": self._config.access_token}
        if self._config.secret:
            stamp = int(self._wall() * 1000)
            query["timestamp"] = str(stamp)
            query["sign"] = dingtalk_sign(self._config.secret, stamp)
        return self._config.url + "?" + urllib.parse.urlencode(query)  # URL-encodes the sign's + / =

    def send(self, message: Message, recipients: Sequence[Contact], *, event: dict, timeout: float) -> None:
        body = json.dumps(dingtalk_body(message, recipients, self._config.format), ensure_ascii=False).encode("utf-8")
        _, answer = post_json(self.url(), body, timeout=timeout)
        _errcode(answer, "钉钉", _DINGTALK_PERMANENT)
