"""HTTP POST of JSON with a deadline, and the generic webhook channel.

The generic webhook gets the event as JSON::

    {"event": "fever", "key": "alarm-12", "drill": false, "time": 1764758400.0, "escalation": 0,
     "title": "...", "text": "...", "recipients": [{"id": "dr-wang", "name": "王医生", "mobile": "..."}]}

With a ``secret_file``, each POST carries ``X-Thermogate-Timestamp`` (Unix
seconds) and ``X-Thermogate-Signature: sha256=<hex>``, the HMAC-SHA256 under
the secret of ``<timestamp>.<body>``, so a receiver can check both where the
body came from and that it is fresh. Any 2xx answer is a delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from .channels import DeliveryError
from .config import Contact, WebhookConfig
from .messages import Message

SIGNATURE_HEADER = "X-Thermogate-Signature"
TIMESTAMP_HEADER = "X-Thermogate-Timestamp"
_MAX_ANSWER = 64 * 1024


def post_json(url: str, body: bytes, *, timeout: float, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """POST ``body`` (JSON) to ``url``; (status, answer) for a 2xx answer, else DeliveryError.

    ``timeout`` bounds the connection and each read. A 4xx answer other than 408 and 429 is permanent
    (the request itself is wrong); 5xx, timeouts and refused connections are worth another try."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "thermogate-notify", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (the URL is checked https/loopback)
            return answer.status, answer.read(_MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
        raise DeliveryError(f"HTTP {exc.code}", permanent=permanent) from None
    except TimeoutError:
        raise DeliveryError(f"no answer within {timeout:g} s") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise DeliveryError(f"no answer within {timeout:g} s") from None
        raise DeliveryError(f"unreachable: {reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"connection failed: {exc}") from None


def sign_body(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook's signature header value: ``sha256=`` and the hex HMAC of ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def recipient_json(contact: Contact) -> dict:
    out = {"id": contact.id, "name": contact.name}
    if contact.mobile:
        out["mobile"] = contact.mobile
    return out


class WebhookChannel:
    def __init__(self, config: WebhookConfig, *, wall=time.time):
        self.name = config.name
        self._config = config
        self._wall = wall

    def payload(self, message: Message, recipients: Sequence[Contact], event: dict) -> dict:
        return {"event": event.get("kind"), "key": event.get("key"), "drill": bool(event.get("drill")),
                "time": event.get("time"), "escalation": message.escalation, "title": message.title,
                "text": message.text, "recipients": [recipient_json(c) for c in recipients]}

    def send(self, message: Message, recipients: Sequence[Contact], *, event: dict, timeout: float) -> None:
        body = json.dumps(self.payload(message, recipients, event), ensure_ascii=False).encode("utf-8")
        headers = {}
        if self._config.secret:
            stamp = str(int(self._wall()))
            headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign_body(self._config.secret, stamp, body)}
        post_json(self._config.url, body, timeout=timeout, headers=headers)
