"""Commands to a gate and the gate's acknowledgements.

A command is JSON with an HMAC-SHA256 tag under the gate's key over
``tg1|<gate>|<boot>|<ctr>|<act>|<arg>|<seq>``: the gate, its current boot,
a counter that only ever grows, the action and its argument, and the frame
sequence number the decision was made on (the gate refuses a command whose
frame it did not send within the last ``max_command_age_s``).

Commands carry ``"v": 2`` (protocol version 2; the tagged string is the same
``tg1|...`` as in version 1). A gate still on version 1 gets ``"v": 1``
during an upgrade (docs/protocol.md, "Upgrade"). Acks are authenticated
under the gate's sensor key like every message from the gate, and version 2
adds ``last``: the highest command counter the gate has authenticated in
this boot.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from .errors import ProtocolError
from .jsonmsg import field as _field
from .jsonmsg import json_object as _json_object
from .jsonmsg import seal as _seal
from .topics import valid_gate_id

ACTIONS = {"open": 0x7FFFFFFF, "lock": 0, "indicate": 4, "refresh": 7, "reboot": 0}
INDICATE = {"off": 0, "pass": 1, "alarm": 2, "retry": 3, "measuring": 4}  # measuring: firmware 0.3.0 on ("ind")
REFUSALS = ("malformed", "bad_version", "wrong_gate", "bad_tag", "wrong_boot", "replayed", "counter_jump", "stale",
            "bad_action", "bad_arg")
MAX_COUNTER = 2**53 - 1
MAX_COUNTER_STEP = 2**24  # after a boot's first accepted command, ctr may be at most last + this (counter_jump)
MAX_FIRST_COUNTER = MAX_COUNTER - 2**40  # a boot's first command above this is refused (counter_jump)
VERSION = 2
VERSIONS = (1, 2)


def mac_message(gate_id: str, boot_id: int, counter: int, action: str, arg: int, sequence: int) -> bytes:
    return f"tg1|{gate_id}|{boot_id}|{counter}|{action}|{arg}|{sequence}".encode()


@dataclass(frozen=True)
class Command:
    gate_id: str
    boot_id: int
    counter: int
    action: str
    arg: int
    sequence: int
    tag: str
    version: int = VERSION

    def payload(self) -> bytes:
        return json.dumps({"v": self.version, "gate": self.gate_id, "boot": self.boot_id, "ctr": self.counter,
                           "act": self.action, "arg": self.arg, "seq": self.sequence, "tag": self.tag},
                          separators=(",", ":")).encode()


def sign_command(key: bytes, gate_id: str, boot_id: int, counter: int, action: str, arg: int,
                 sequence: int, version: int = VERSION) -> Command:
    """A command tagged under ``key`` (the gate's 32-byte secret K, not its sensor key); ``version`` 1 only
    for a gate still on protocol version 1."""
    if version not in VERSIONS:
        raise ValueError(f"command version must be one of {VERSIONS}")
    if not valid_gate_id(gate_id):
        raise ValueError(f"invalid gate id {gate_id!r}")
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {sorted(ACTIONS)}")
    if not 0 <= arg <= ACTIONS[action]:
        raise ValueError(f"argument {arg} out of range 0..{ACTIONS[action]} for {action}")
    if not 1 <= counter <= MAX_COUNTER:
        raise ValueError("counter must be 1..2**53-1")
    if not (0 <= boot_id <= 0xFFFFFFFF and 0 <= sequence <= 0xFFFFFFFF):
        raise ValueError("boot id and sequence are 32-bit unsigned")
    tag = hmac.new(key, mac_message(gate_id, boot_id, counter, action, arg, sequence), hashlib.sha256).hexdigest()
    return Command(gate_id, boot_id, counter, action, arg, sequence, tag, version)


@dataclass(frozen=True)
class Ack:
    gate_id: str
    counter: int | None  # None when the command was too malformed to carry one
    ok: bool
    reason: str  # "" when ok, else one of REFUSALS
    action: str
    applied_ms: int
    sequence: int  # the gate's latest frame sequence when it answered
    last: int | None = None  # version 2: the highest counter authenticated in this boot (0: none); v1: None
    version: int = VERSION


def _counter(value, what: str, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_COUNTER:
        raise ProtocolError("schema", f"{what} is {value!r}")
    return value


def decode_ack(payload: bytes, key, *, accept_v1: bool = False) -> Ack:
    """An ack, checked under ``key`` (the gate's sensor key K_s, or mac.UNVERIFIED)."""
    d, version = _json_object(payload, "ack", key, b"ack", accept_v1)
    counter = d.get("ctr")
    if counter is not None:
        _counter(counter, "ack.ctr", 1)
    last = _counter(d.get("last"), "ack.last", 0) if version >= 2 else None
    ok = _field(d, "ok", (bool,), "ack")
    reason = _field(d, "reason", (str,), "ack")
    if ok != (reason == "") or (reason and reason not in REFUSALS):
        raise ProtocolError("schema", f"ack ok={ok} with reason {reason!r}")
    return Ack(gate_id=_field(d, "gate", (str,), "ack"), counter=counter, ok=ok, reason=reason,
               action=_field(d, "act", (str,), "ack"), applied_ms=_field(d, "applied_ms", (int,), "ack"),
               sequence=_field(d, "seq", (int,), "ack"), last=last, version=version)


def ack_payload(key: bytes, gate_id: str, counter: int | None, ok: bool, reason: str, action: str,
                applied_ms: int, sequence: int, last: int) -> bytes:
    """A version-2 ack as a gate sends it, sealed under the sensor key ``key`` (for simulators and tests)."""
    body = json.dumps({"v": VERSION, "gate": gate_id, "ctr": counter, "ok": ok, "reason": reason, "act": action,
                       "applied_ms": applied_ms, "seq": sequence, "last": last}, separators=(",", ":")).encode()
    return _seal(body, key, b"ack")
