"""Who hears of an event, and through which channel: a route's names resolved to contacts.

A route's ``to`` and ``escalate_to`` hold contact ids and two roles:
``@class_teacher`` (the contacts whose ``classes`` hold the event's class) and
``@reporter`` (the contact the event names as its reporter). Each contact is
reached on every channel it lists; the contacts of one channel share one
message, which mentions them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import CLASS_TEACHER, REPORTER, Contact, NotifyConfig
from .events import NotifyEvent


@dataclass(frozen=True)
class Unreached:
    """A name of a route that gave nobody (no class teacher for the class, an unknown reporter)."""

    name: str
    why: str


def resolve(names: tuple[str, ...], event: NotifyEvent, config: NotifyConfig) -> tuple[list[Contact], list[Unreached]]:
    """The contacts ``names`` stand for at this event, each once, in order; and the names that gave nobody."""
    found: list[Contact] = []
    missing: list[Unreached] = []
    for name in names:
        if name == CLASS_TEACHER:
            teachers = [c for c in config.contacts.values() if event.class_name and event.class_name in c.classes]
            if not teachers:
                missing.append(Unreached(name, f"no class teacher for class {event.class_name or '(none given)'}"))
            found += teachers
        elif name == REPORTER:
            if event.reporter in config.contacts:
                found.append(config.contacts[event.reporter])
            else:
                missing.append(Unreached(name, f"no contact {event.reporter or '(none given)'} for the reporter"))
        elif name in config.contacts:
            found.append(config.contacts[name])
        else:  # the loader checks names; an event may still arrive under a config changed by hand
            missing.append(Unreached(name, f"no contact {name}"))
    unique = list({c.id: c for c in found}.values())
    return unique, missing


def by_channel(contacts: list[Contact]) -> dict[str, list[Contact]]:
    """{channel name: its contacts}, channels in the order first named."""
    out: dict[str, list[Contact]] = {}
    for contact in contacts:
        for channel in contact.channels:
            out.setdefault(channel, []).append(contact)
    return out
