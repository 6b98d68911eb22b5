"""What every channel is: ``send(message, recipients, timeout)``, which returns or raises DeliveryError.

``build(config)`` makes the channel a ``[notify.channels.<name>]`` table
describes: webhook.py (a generic JSON webhook), robots.py (the 企业微信 and
钉钉 group robots), mail.py (SMTP with STARTTLS).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .config import ChannelConfig, Contact, DingTalkConfig, SmtpConfig, WebhookConfig, WeComConfig
from .messages import Message


class DeliveryError(Exception):
    """One attempt failed. ``permanent``: trying again cannot help (a refused recipient, a wrong key)."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Channel(Protocol):
    name: str

    def send(self, message: Message, recipients: Sequence[Contact], *, event: dict, timeout: float) -> None:
        """Deliver ``message`` to ``recipients`` (all reached through this channel) within ``timeout``
        seconds, or raise DeliveryError. ``event``: the event's plain fields, for channels that carry them."""
        ...


def build(config: ChannelConfig) -> Channel:
    from .mail import SmtpChannel
    from .robots import DingTalkChannel, WeComChannel
    from .webhook import WebhookChannel

    if isinstance(config, WebhookConfig):
        return WebhookChannel(config)
    if isinstance(config, WeComConfig):
        return WeComChannel(config)
    if isinstance(config, DingTalkConfig):
        return DingTalkChannel(config)
    if isinstance(config, SmtpConfig):
        return SmtpChannel(config)
    raise TypeError(f"not a channel configuration: {config!r}")
