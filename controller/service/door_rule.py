"""The door rule: whether a PASS may open the door, given who the gate's credential says is there.

| the screening | credential | hold (cases) | `[site] require_identity` | becomes |
|---|---|---|---|---|
| PASS | a known, active person, or a valid visitor pass | none | either | PASS: the door opens |
| PASS | none, refused (1), or the store unreadable | - | true | RETRY `register_at_gatehouse`: the door stays shut |
| PASS | none or refused | - | false | PASS, as without identities |
| PASS | a person | held until 复课 | either | RETRY `see_school_doctor`: the door stays shut |
| PASS | a person | the cases unreadable | either | RETRY `register_at_gatehouse`: the door stays shut |
| FEVER, RETRY, BLOCKED | any | any | either | unchanged |

(1) unknown, inactive, expired, outside_window, revoked, forged (controller/identity/records.py).

A FEVER is never changed: the alarm goes off whoever it is. The rule only ever
turns a PASS into a RETRY, so it can keep a door shut but never open one.
"""

from __future__ import annotations

import dataclasses

from ..identity.records import Resolution
from ..protocol import result as D
from ..protocol.result import Decision

REGISTER_AT_GATEHOUSE = D.REGISTER_AT_GATEHOUSE
SEE_SCHOOL_DOCTOR = D.SEE_SCHOOL_DOCTOR


def door_rule(d: Decision, resolution: Resolution | None, *, require_identity: bool,
              hold: str | None = None) -> Decision:
    """``d`` as the gate must act on it. ``resolution``: the credential tied to this screening (None: no
    credential, or the store could not be read); ``hold``: the reason the person is held back
    (``see_school_doctor`` until 复课; ``register_at_gatehouse`` when the cases could not be read) or None."""
    if d.decision != D.PASS:
        return d
    if hold is not None:
        return dataclasses.replace(d, decision=D.RETRY, reason=hold)
    if require_identity and (resolution is None or not resolution.ok):
        return dataclasses.replace(d, decision=D.RETRY, reason=REGISTER_AT_GATEHOUSE)
    return d
