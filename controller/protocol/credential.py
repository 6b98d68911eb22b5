"""A credential read at a gate: the `credential` topic (docs/protocol.md).

The gate's QR scanner or card reader read a code; the gate sends it as tagged
JSON (label ``credential``, under the gate's sensor key), numbered per boot:

    {"v":2,"gate":"north-1","boot":3735928559,"n":7,"kind":"qr","text":"S-2024-0131","t_ms":123456,
     "mac":"<32 hex digits>"}

:func:`decode` believes nothing before the tag checks out, and refuses with
one short reason (``ProtocolError.reason``): ``too_long``, ``mac_missing``,
``mac``, ``malformed``, ``version``, ``wrong_gate``, ``replay``.
:class:`ReplayGuard` remembers, per gate, the highest number of each boot
seen, so a message sent again is refused.
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass

from .errors import ProtocolError
from .jsonmsg import MAX_JSON_BYTES
from .jsonmsg import json_object as _json_object
from .jsonmsg import seal as _seal

LABEL = b"credential"
KINDS = ("qr", "card")
MAX_TEXT = 256  # characters of a code; the gate's readers drop longer ones
MAX_NUMBER = 2**30 - 1
MAX_TICKS = 2**30 - 1  # the board's millisecond clock wraps here
BOOTS_KEPT = 16  # earlier boots of a gate remembered, so that their credentials cannot come back
_TEXT = re.compile(rf"[\x20-\x7e]{{1,{MAX_TEXT}}}")
_CARD = re.compile(r"(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})")  # a 4-, 7- or 10-byte UID in hex


@dataclass(frozen=True)
class Credential:
    """One authenticated read: ``number`` counts the gate's reads in boot ``boot_id`` from 1; ``board_ms`` is
    the gate's clock when it read it (the same clock as the frames' board time)."""

    gate_id: str
    boot_id: int
    number: int
    kind: str
    text: str
    board_ms: int


def _int(d: dict, key: str, hi: int) -> int:
    value = d.get(key)
    if type(value) is not int or not 0 <= value <= hi:
        raise ProtocolError("malformed", f"credential.{key} is {value!r}")
    return value


class ReplayGuard:
    """The latest number seen per gate and boot. A credential whose number is not above the latest of its
    boot, or that belongs to a boot the gate has left (one of the last BOOTS_KEPT), is a replay."""

    def __init__(self) -> None:
        self._boots: dict[str, collections.OrderedDict[int, int]] = {}

    def check(self, cred: Credential) -> None:
        """Raise ``replay``, or record ``cred`` as seen."""
        boots = self._boots.setdefault(cred.gate_id, collections.OrderedDict())
        if cred.boot_id in boots:
            current = next(reversed(boots))
            if cred.boot_id != current:
                raise ProtocolError("replay", f"credential of boot {cred.boot_id:#x}, which gate {cred.gate_id} "
                                              f"has left")
            if cred.number <= boots[current]:
                raise ProtocolError("replay", f"credential number {cred.number} of gate {cred.gate_id}, not above "
                                              f"{boots[current]}")
        boots[cred.boot_id] = cred.number
        boots.move_to_end(cred.boot_id)
        while len(boots) > BOOTS_KEPT + 1:
            boots.popitem(last=False)


def decode(payload: bytes, key: bytes, gate_id: str, replays: ReplayGuard | None = None) -> Credential:
    """The credential in ``payload``, received on gate ``gate_id``'s topic, checked under the gate's sensor
    key ``key`` (K_s, controller.protocol.sensor_key) and, with ``replays``, against the ones seen before.

    Raises ProtocolError: ``too_long`` (payload over 1024 bytes, or text over MAX_TEXT), ``mac_missing``,
    ``mac``, ``malformed`` (not JSON, or a field missing or wrong), ``version``, ``wrong_gate``, ``replay``."""
    if len(payload) > MAX_JSON_BYTES:
        raise ProtocolError("too_long", f"credential of {len(payload)} bytes, limit {MAX_JSON_BYTES}")
    try:
        d, _ = _json_object(bytes(payload), "credential", key, LABEL)
    except ProtocolError as exc:
        if exc.reason in ("json", "schema"):
            raise ProtocolError("malformed", str(exc)) from None
        raise
    gate = d.get("gate")
    if type(gate) is not str:
        raise ProtocolError("malformed", f"credential.gate is {gate!r}")
    if gate != gate_id:
        raise ProtocolError("wrong_gate", f"a credential of gate {gate!r} on gate {gate_id!r}'s topic")
    kind, text = d.get("kind"), d.get("text")
    if kind not in KINDS:
        raise ProtocolError("malformed", f"credential.kind is {kind!r}")
    if type(text) is not str:
        raise ProtocolError("malformed", f"credential.text is {text!r}")
    if len(text) > MAX_TEXT:
        raise ProtocolError("too_long", f"credential text of {len(text)} characters, limit {MAX_TEXT}")
    if not _TEXT.fullmatch(text) or kind == "card" and not _CARD.fullmatch(text):
        raise ProtocolError("malformed", f"credential.text {text[:40]!r} is not a {kind} code")
    number = _int(d, "n", MAX_NUMBER)
    if number == 0:
        raise ProtocolError("malformed", "credential.n is 0; a boot's first is 1")
    cred = Credential(gate, _int(d, "boot", 0xFFFFFFFF), number, kind, text, _int(d, "t_ms", MAX_TICKS))
    if replays is not None:
        replays.check(cred)
    return cred


def credential_payload(key: bytes, cred: Credential) -> bytes:
    """The payload a gate sends for ``cred``, sealed under the sensor key ``key`` (for simulators and tests)."""
    import json

    body = json.dumps({"v": 2, "gate": cred.gate_id, "boot": cred.boot_id, "n": cred.number, "kind": cred.kind,
                       "text": cred.text, "t_ms": cred.board_ms}, separators=(",", ":")).encode()
    return _seal(body, key, LABEL)
