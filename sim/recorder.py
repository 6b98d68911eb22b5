"""Recording a live gate: its EEPROM, frame and status messages, as received.

:func:`record` subscribes to ``thermogate/<gate>/{eeprom,frame,status}`` for
a while and returns a :class:`~controller.recording.Recording` of what the broker
delivered, with ``time.monotonic()`` receive times. A recording keeps the
version-1 layout of each binary message (header and words as sent, no tag):
a version-2 gate's tags are not checked here (the recorder holds no key) and
not kept (docs/recordings.md).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from datetime import datetime, timezone

import numpy as np

from controller.mqtt.link import Broker, close, connect
from controller.protocol import ProtocolError, topic, valid_gate_id
from controller.protocol.binary import FRAME_BYTES_V1 as FRAME_BYTES
from controller.recording import Recording, unsealed_eeprom, unsealed_frame

from .replay import REPLAY_FIRMWARE_PREFIX


class RecordError(RuntimeError):
    """Nothing usable arrived from the gate."""


def record(broker_host: str, broker_port: int, gate_id: str, seconds: float, *, username: str | None = None,
           password: str | None = None, stop: threading.Event | None = None) -> Recording:
    """Record gate ``gate_id`` for ``seconds`` (or until ``stop`` is set).

    The EEPROM message is retained, so it arrives right after subscribing
    from any gate that has connected once; the first one that decodes is
    kept. Frames that do not decode (bad CRC, wrong size, ...) are left out
    and counted in ``meta["frames_refused"]``; status payloads that are not
    UTF-8 are counted in ``meta["status_refused"]``. The source is "replay"
    when a status says the publisher was ``thermogate sim replay``, else "live". RecordError if no EEPROM
    message or no frame arrived; LinkError if the broker cannot be used.
    """
    if not valid_gate_id(gate_id):
        raise ValueError(f"invalid gate id {gate_id!r}: use lowercase letters, digits and hyphens")
    if not seconds > 0:
        raise ValueError(f"the recording time must be positive, not {seconds}")
    received: list[tuple[float, str, bytes]] = []

    def on_message(_client, _userdata, message) -> None:
        received.append((time.monotonic(), message.topic, bytes(message.payload)))

    kinds = {topic(gate_id, kind): kind for kind in ("eeprom", "frame", "status")}
    created = datetime.now(timezone.utc)
    client = connect(Broker(broker_host, broker_port, username, password), f"record-{gate_id}-{os.urandom(3).hex()}",
                     on_message=on_message,
                     subscriptions=[(name, 0 if kind == "frame" else 1) for name, kind in kinds.items()])
    try:
        (stop or threading.Event()).wait(seconds)
    finally:
        close(client)
    return _assemble(gate_id, received, kinds, created,
                     {"broker": f"{broker_host}:{broker_port}", "requested_seconds": seconds})


def _from_replay(status_text: str) -> bool:
    """Whether a status message comes from ``thermogate sim replay`` rather than a gate."""
    try:
        fw = json.loads(status_text).get("fw", "")
    except (ValueError, AttributeError):
        return False
    return isinstance(fw, str) and fw.startswith(REPLAY_FIRMWARE_PREFIX)


def _assemble(gate_id: str, received: list[tuple[float, str, bytes]], kinds: dict[str, str], created: datetime,
              meta: dict) -> Recording:
    eeprom: bytes | None = None
    eeprom_refused: Counter[str] = Counter()
    eeprom_messages = 0
    frames: list[tuple[float, bytes]] = []
    frames_refused: Counter[str] = Counter()
    status: list[tuple[float, str]] = []
    status_refused = 0
    versions: Counter[str] = Counter()  # wire protocol versions of the binary messages kept
    for t, name, payload in received:
        kind = kinds.get(name)
        if kind == "eeprom":
            eeprom_messages += 1
            try:
                stored = unsealed_eeprom(payload)
            except ProtocolError as exc:
                eeprom_refused[exc.reason] += 1
                continue
            if eeprom is None:
                eeprom = stored
                versions[str(payload[3])] += 1
        elif kind == "frame":
            try:
                stored = unsealed_frame(payload)
            except ProtocolError as exc:
                frames_refused[exc.reason] += 1
                continue
            frames.append((t, stored))
            versions[str(payload[3])] += 1
        elif kind == "status":
            try:
                status.append((t, payload.decode("utf-8")))
            except UnicodeDecodeError:
                status_refused += 1
    where = f"thermogate/{gate_id}/"
    if eeprom is None:
        if eeprom_messages:
            reasons = ", ".join(f"{r} x{n}" for r, n in sorted(eeprom_refused.items()))
            raise RecordError(f"{eeprom_messages} EEPROM message(s) arrived on {where}eeprom but none decoded "
                              f"({reasons})")
        raise RecordError(f"no EEPROM message arrived on {where}eeprom: is the gate id right and has the gate "
                          "connected to this broker since it started? (it publishes the EEPROM retained)")
    if not frames:
        refused = f" ({sum(frames_refused.values())} refused: {dict(frames_refused)})" if frames_refused else ""
        raise RecordError(f"no frame arrived on {where}frame{refused}: is the gate online?")
    t0 = frames[0][0]
    source = "replay" if any(_from_replay(text) for _, text in status) else "live"
    meta = dict(meta, eeprom_messages=eeprom_messages, frames_refused=dict(frames_refused),
                status_refused=status_refused, protocol_versions=dict(versions))
    return Recording(
        gate_id=gate_id, source=source, eeprom=eeprom, created=created,
        frame_payloads=np.frombuffer(b"".join(p for _, p in frames), dtype=np.uint8).reshape(-1, FRAME_BYTES),
        frame_times=np.array([t - t0 for t, _ in frames]),
        status=tuple(text for _, text in status), status_times=np.array([t - t0 for t, _ in status]),
        meta=meta)
