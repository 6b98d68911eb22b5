"""The words of a notification: a title, plain text and Markdown, from an event.

Each message carries what its readers need and no more: a FEVER alarm names
the gate, the time and the reading, not the person (the doctor meets them at
the gate); a pupil sent home is named to the class teacher; a report carries
its summary. A drill's messages start with 【演练】.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .events import EventKind, NotifyEvent

DRILL_PREFIX = "【演练】"


@dataclass(frozen=True)
class Message:
    """One notification's words; ``escalation`` counts how many times it has gone further up (0 first)."""

    title: str
    text: str
    markdown: str
    escalation: int = 0


def _clock(t: float, tz: ZoneInfo | None) -> str:
    """The time of day at the school (``tz``; this machine's zone when None)."""
    return _dt.datetime.fromtimestamp(t, tz).strftime("%H:%M:%S")


def render(event: NotifyEvent, *, escalation: int = 0, tz: ZoneInfo | None = None) -> Message:
    """The message for an event (``escalation`` > 0: the n-th time nobody acknowledged it)."""
    at = _clock(event.time, tz)
    if event.kind is EventKind.FEVER:
        reading = f"测温 {event.estimate_c:.1f}°C" if event.estimate_c is not None else "体温异常"
        title = f"发热警报 {event.gate}".strip()
        lines = [" ".join(p for p in (at, event.gate, f"{reading},门未开。请校医到场复测。") if p)]
        if escalation:
            lines.append(f"已 {escalation} 次无人确认,请立即处理。")
    elif event.kind is EventKind.SENT_HOME:
        who = " ".join(p for p in (event.class_name, event.person) if p)
        title = f"离校观察 {who}".strip()
        lines = [f"{at} {who} 复测仍发热,已离校(或转发热门诊),请班主任跟进。"]
        if event.text:
            lines.append(event.text)
    else:
        title = "报告"
        lines = [event.text or f"{at} 报告已生成。"]
    lines.append(f"编号 {event.key}")
    if event.drill:
        title = DRILL_PREFIX + title
        lines[0] = DRILL_PREFIX + lines[0]
    text = "\n".join(lines)
    markdown = f"### {title}\n" + "\n".join(f"> {line}" for line in lines)
    return Message(title=title, text=text, markdown=markdown, escalation=escalation)
