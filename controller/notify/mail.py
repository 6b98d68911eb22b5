"""E-mail through the school's SMTP server: STARTTLS always, then the login from its file.

The certificate is checked against the system's CAs, or ``ca_file``'s (a
school's own CA). A server that refuses a recipient or the message (5xx) is a
permanent failure; one that cannot be reached, times out or answers 4xx is
tried again.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from .channels import DeliveryError
from .config import Contact, SmtpConfig
from .messages import Message


class SmtpChannel:
    def __init__(self, config: SmtpConfig):
        self.name = config.name
        self._config = config
        self._tls = ssl.create_default_context(cafile=config.ca_file or None)

    def email(self, message: Message, recipients: Sequence[Contact]) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = formataddr(("thermogate", self._config.sender))
        mail["To"] = ", ".join(formataddr((c.name, c.email)) for c in recipients)
        mail["Subject"] = message.title
        mail["Date"] = formatdate(localtime=True)
        mail["Message-ID"] = make_msgid(domain=self._config.sender.rpartition("@")[2])
        mail.set_content(message.text)
        return mail

    def _login(self, smtp: smtplib.SMTP) -> None:
        """AUTH PLAIN where offered (inside TLS it is safe, and one refusal is one clear 535); else smtplib's
        choice, which after a refusal goes on to the next mechanism."""
        smtp.user, smtp.password = self._config.user, self._config.password
        if "plain" in smtp.esmtp_features.get("auth", "").lower().split():
            smtp.auth("PLAIN", smtp.auth_plain)
        else:
            smtp.login(self._config.user, self._config.password)

    def send(self, message: Message, recipients: Sequence[Contact], *, event: dict, timeout: float) -> None:
        mail = self.email(message, recipients)
        c = self._config
        try:
            with smtplib.SMTP(c.host, c.port, timeout=timeout) as smtp:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(f"{c.host} offers no STARTTLS; mail is never sent in the clear",
                                        permanent=True)
                smtp.starttls(context=self._tls)
                smtp.ehlo()
                if c.user:
                    self._login(smtp)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise DeliveryError(f"recipients refused ({', '.join(map(str, codes))})",
                                permanent=all(code >= 500 for code in codes)) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise DeliveryError(f"SMTP {exc.smtp_code}: {text}", permanent=exc.smtp_code >= 500) from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"TLS failed: {exc.reason or exc}", permanent=True) from None
        except TimeoutError:
            raise DeliveryError(f"no answer within {timeout:g} s") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP failed: {exc}") from None
