"""Sending a built report's files to one recipient: a file drop, a webhook, or e-mail.

- **file**: the files are copied into the directory (written under a
  temporary name, then renamed, so the bureau's platform never reads half a
  file), with ``<stem>.sha256`` listing their hashes in ``sha256sum`` format.
- **webhook**: one POST of JSON (school, date, verdict, reporter, and each
  file as base64 with its sha256), signed like notify's webhooks when a secret
  is set (``X-Thermogate-Timestamp``, ``X-Thermogate-Signature``). Any 2xx is a
  delivery; the answer's first 200 bytes are kept as the receipt.
- **email**: through a ``[notify.channels]`` SMTP channel (STARTTLS always), the
  files attached.

Each returns the receipt's detail or raises ``DeliveryError``.
"""

from __future__ import annotations

import base64
import json
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path

from ..notify.channels import DeliveryError
from ..notify.config import SmtpConfig
from ..notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, post_json, sign_body
from .config import Recipient


def deliver(recipient: Recipient, files: list[Path], hashes: dict[str, str], meta: dict, *, timeout: float,
            smtp: dict[str, SmtpConfig] | None = None) -> str:
    if recipient.type == "file":
        return _drop(recipient, files, hashes)
    if recipient.type == "webhook":
        return _webhook(recipient, files, hashes, meta, timeout)
    if recipient.type == "email":
        cfg = (smtp or {}).get(recipient.channel)
        if cfg is None:
            raise DeliveryError(f"no smtp channel {recipient.channel!r} in [notify.channels]", permanent=True)
        return _email(recipient, cfg, files, meta, timeout)
    raise DeliveryError(f"unknown recipient type {recipient.type!r}", permanent=True)


def _drop(recipient: Recipient, files: list[Path], hashes: dict[str, str]) -> str:
    target = Path(recipient.dir)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for f in files:
            tmp = target / f".{f.name}.part"
            tmp.write_bytes(f.read_bytes())
            tmp.replace(target / f.name)
        stem = files[0].stem
        manifest = "".join(f"{hashes[f.name]}  {f.name}\n" for f in files)
        tmp = target / f".{stem}.sha256.part"
        tmp.write_text(manifest, encoding="utf-8")
        tmp.replace(target / f"{stem}.sha256")
    except OSError as exc:
        raise DeliveryError(f"cannot write to {target}: {exc.strerror or exc}") from None
    return f"{len(files)} file(s) and {stem}.sha256 in {target}"


def _webhook(recipient: Recipient, files: list[Path], hashes: dict[str, str], meta: dict, timeout: float) -> str:
    body = json.dumps({**meta, "files": [{"name": f.name, "sha256": hashes[f.name],
                                          "content_base64": base64.b64encode(f.read_bytes()).decode("ascii")}
                                         for f in files]}, ensure_ascii=False).encode("utf-8")
    headers = {}
    if recipient.secret:
        stamp = str(int(time.time()))
        headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign_body(recipient.secret, stamp, body)}
    status, answer = post_json(recipient.url, body, timeout=timeout, headers=headers)
    text = answer[:200].decode("utf-8", "replace").strip()
    return f"HTTP {status}" + (f": {text}" if text else "")


def _email(recipient: Recipient, c: SmtpConfig, files: list[Path], meta: dict, timeout: float) -> str:
    mail = EmailMessage()
    mail["From"] = formataddr(("thermogate", c.sender))
    mail["To"] = ", ".join(recipient.to)
    mail["Subject"] = f"{meta['school']} {meta['date']} 晨午检日报：{meta['verdict']}"
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain=c.sender.rpartition("@")[2])
    mail.set_content(f"{meta['school']}（{meta['school_code']}）{meta['date']}\n{meta['verdict']}\n"
                     f"报告人：{meta['reporter']}\n")
    types = {".pdf": ("application", "pdf"), ".csv": ("text", "csv"), ".json": ("application", "json")}
    for f in files:
        main, sub = types.get(f.suffix, ("application", "octet-stream"))
        mail.add_attachment(f.read_bytes(), maintype=main, subtype=sub, filename=f.name)
    try:
        with smtplib.SMTP(c.host, c.port, timeout=timeout) as s:
            s.ehlo()
            if not s.has_extn("starttls"):
                raise DeliveryError(f"{c.host} offers no STARTTLS; mail is never sent in the clear", permanent=True)
            s.starttls(context=ssl.create_default_context(cafile=c.ca_file or None))
            s.ehlo()
            if c.user:
                s.login(c.user, c.password)
            s.send_message(mail)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.smtp_code}", permanent=exc.smtp_code >= 500) from None
    except smtplib.SMTPRecipientsRefused:
        raise DeliveryError("recipients refused", permanent=True) from None
    except ssl.SSLError as exc:
        raise DeliveryError(f"TLS failed: {exc.reason or exc}", permanent=True) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP failed: {exc}") from None
    return f"mailed to {', '.join(recipient.to)} through {c.host}"
