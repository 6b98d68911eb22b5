"""Commands to a gate and the gate's acknowledgements.

A command is JSON with an HMAC-SHA256 tag under the gate's key over
``tg1|<gate>|<boot>|<ctr>|<act>|<arg>|<seq>``: the gate, its current boot,
a counter that only ever grows, the action and its argument, and the frame
sequence number the decision was made on (the gate refuses a command whose
frame it did not send within the last ``max_command_age_s``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from .errors import ProtocolError
from .jsonmsg import field as _field
from .jsonmsg import json_object as _json_object
from .topics import valid_gate_id

ACTIONS = {"open": 0x7FFFFFFF, "lock": 0, "indicate": 3, "refresh": 7, "reboot": 0}
INDICATE = {"off": 0, "pass": 1, "alarm": 2, "retry": 3}
REFUSALS = ("malformed", "bad_version", "wrong_gate", "bad_tag", "wrong_boot", "replayed", "stale", "bad_action",
            "bad_arg")
MAX_COUNTER = 2**53 - 1


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

    def payload(self) -> bytes:
        return json.dumps({"v": 1, "gate": self.gate_id, "boot": self.boot_id, "ctr": self.counter,
                           "act": self.action, "arg": self.arg, "seq": self.sequence, "tag": self.tag},
                          separators=(",", ":")).encode()


def sign_command(key: bytes, gate_id: str, boot_id: int, counter: int, action: str, arg: int,
                 sequence: int) -> Command:
    """A command tagged under ``key`` (the gate's 32-byte secret)."""
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
    return Command(gate_id, boot_id, counter, action, arg, sequence, tag)


@dataclass(frozen=True)
class Ack:
    gate_id: str
    counter: int | None  # None when the command was too malformed to carry one
    ok: bool
    reason: str  # "" when ok, else one of REFUSALS
    action: str
    applied_ms: int
    sequence: int  # the gate's latest frame sequence when it answered


def decode_ack(payload: bytes) -> Ack:
    d = _json_object(payload, "ack")
    counter = d.get("ctr")
    if counter is not None and (not isinstance(counter, int) or isinstance(counter, bool) or counter < 1):
        raise ProtocolError("schema", f"ack.ctr is {counter!r}")
    ok = _field(d, "ok", (bool,), "ack")
    reason = _field(d, "reason", (str,), "ack")
    if ok != (reason == "") or (reason and reason not in REFUSALS):
        raise ProtocolError("schema", f"ack ok={ok} with reason {reason!r}")
    return Ack(gate_id=_field(d, "gate", (str,), "ack"), counter=counter, ok=ok, reason=reason,
               action=_field(d, "act", (str,), "ack"), applied_ms=_field(d, "applied_ms", (int,), "ack"),
               sequence=_field(d, "seq", (int,), "ack"))
