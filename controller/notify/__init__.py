"""Notifications: FEVER alarms, pupils sent home and reports, to phones and mailboxes (docs/notifications.md).

The service builds a ``Notifier`` from ``[notify]`` and calls ``notify(event)``
with a ``NotifyEvent``; ``acknowledge(key)`` stops an alarm's escalation; a
delivery that fails after its retries calls the service's ``on_failure``
with a ``NotificationFailure``, whose ``detail`` is the console alert's text.
"""

from .config import NotifyConfig, from_table
from .delivery import (
    Delivery,
    FailureCallback,
    NotificationFailure,
    NotificationOutcome,
    Notifier,
    OutcomeCallback,
)
from .events import EventKind, NotifyEvent
from .messages import DRILL_PREFIX, Message

__all__ = ["DRILL_PREFIX", "Delivery", "EventKind", "FailureCallback", "Message", "NotificationFailure",
           "NotificationOutcome", "Notifier", "NotifyConfig", "NotifyEvent", "OutcomeCallback", "from_table"]
