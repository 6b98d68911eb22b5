"""Replaying a recording into an MQTT broker, as the gate would publish it.

:func:`replay` connects as ``replay-<gate>``, publishes the EEPROM message
(retained, QoS 1), an online status (retained, QoS 1), every frame payload
(QoS 0) at its recorded time divided by ``speed``, and finally an offline
status. Every message is sealed as protocol version 2 under the key of the
gate it is published as (the simulator's key of that gate id unless another
is given): the header fields and words are the recording's, the tag is new
(docs/recordings.md, "Replaying").
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from controller import __version__
from controller.mqtt.link import Broker, LinkError, close, connect
from controller.protocol import sensor_key, status_payload, topic, valid_gate_id
from controller.protocol.commands import REFUSALS
from controller.recording import Recording
from controller.sensor.frame import describe_control

PUBLISH_TIMEOUT_S = 10.0
REPLAY_FIRMWARE_PREFIX = "replay-"  # the "fw" of a replay's status, so a recording of a replay says so


@dataclass(frozen=True)
class ReplayResult:
    frames_sent: int  # frame messages handed to the broker connection
    frames_dropped: int  # frames that could not be published (connection lost)
    passes: int  # complete passes through the recording
    elapsed_s: float  # from the first frame's publication to the last one's
    max_late_s: float  # the largest delay of a publication behind its schedule


def online_status(key: bytes, gate_id: str, boot_id: int, *, fps: float, refresh_hz: float) -> bytes:
    """A heartbeat following docs/protocol.md, from a gate that is a replay, sealed under the sensor key ``key``."""
    return status_payload(key, {
        "gate": gate_id, "online": True, "fw": f"{REPLAY_FIRMWARE_PREFIX}{__version__}", "boot": boot_id,
        "uptime_s": 0, "rssi": 0, "heap_free": 0, "frames": 0, "frames_unsent": 0, "fps": round(fps, 3),
        "refresh_hz": refresh_hz, "sensor_ok": True, "i2c_errors": 0, "sensor_resets": 0, "relay": "locked",
        "door_openings": 0, "cmd_ok": 0, "cmd_refused": dict.fromkeys(REFUSALS, 0), "mqtt_connects": 1,
    })


def offline_status(key: bytes, gate_id: str, boot_id: int) -> bytes:
    """The last will of docs/protocol.md, sealed under the sensor key ``key``."""
    return status_payload(key, {"gate": gate_id, "online": False, "boot": boot_id})


def _loop_period(recording: Recording) -> float:
    """Seconds from the start of one pass to the start of the next: the recording plus one frame interval."""
    gaps = np.diff(recording.frame_times)
    gaps = gaps[gaps > 0]
    return recording.duration + (float(np.median(gaps)) if gaps.size else 1.0)


def replay(recording: Recording, broker_host: str, broker_port: int, *, gate_id: str | None = None,
           key: bytes | None = None, speed: float = 1.0, loop: bool = False, username: str | None = None,
           password: str | None = None, stop: threading.Event | None = None) -> ReplayResult:
    """Publish ``recording`` as gate ``gate_id`` (default: the recording's gate).

    ``key`` is that gate's 32-byte key K (default: the simulator's key of the gate id,
    ``sim.gate_config.simulator_key``); every message is sealed as protocol version 2 under its sensor key.

    Frame ``i`` is published at ``start + t_i / speed`` on the monotonic clock,
    so lateness never accumulates. With ``loop`` the recording starts again
    one frame interval after its last frame, with the same bytes (so the same
    boot id and sequence numbers), until ``stop`` is set or the caller is
    interrupted. If the connection drops, frames due meanwhile are dropped
    (counted), and after reconnecting the EEPROM message and the online status
    are published again, as a gate does. The offline status is published in
    every case, and every message is flushed before disconnecting.
    """
    gate = gate_id or recording.gate_id
    if not valid_gate_id(gate):
        raise ValueError(f"invalid gate id {gate!r}: use lowercase letters, digits and hyphens")
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(f"speed must be a positive number, not {speed}")
    if len(recording) == 0:
        raise ValueError("the recording has no frames")
    stop = stop or threading.Event()
    if key is None:
        from .gate_config import simulator_key

        key = simulator_key(gate)
    ks = sensor_key(key)
    boot_id = recording.eeprom_message().boot_id
    eeprom = recording.sealed_eeprom(ks)
    payloads = recording.sealed_payloads(ks)
    refresh_hz = describe_control(next(recording.frames()).message.control)["refresh_hz"]
    fps = (len(recording) - 1) / recording.duration * speed if recording.duration > 0 else 0.0
    status_topic, frame_topic = topic(gate, "status"), topic(gate, "frame")
    offline = offline_status(ks, gate, boot_id)

    online = online_status(ks, gate, boot_id, fps=fps, refresh_hz=refresh_hz)

    def announce(client) -> None:
        """What a gate publishes on every reconnection (the broker may have lost its retained messages)."""
        client.publish(topic(gate, "eeprom"), eeprom, qos=1, retain=True)
        client.publish(status_topic, online, qos=1, retain=True)

    client = connect(Broker(broker_host, broker_port, username, password), f"replay-{gate}",
                     will=(status_topic, offline, 1, True), on_reconnect=announce)
    sent = dropped = passes = 0
    max_late = 0.0
    first = last = None
    try:
        _confirm(client.publish(topic(gate, "eeprom"), eeprom, qos=1, retain=True), "the EEPROM message")
        _confirm(client.publish(status_topic, online, qos=1, retain=True), "the online status")
        period = _loop_period(recording)
        times = recording.frame_times.tolist()
        start = time.monotonic()
        info = None
        while not stop.is_set():
            offset = passes * period
            for i, payload in enumerate(payloads):
                due = start + (offset + times[i]) / speed
                if stop.wait(max(0.0, due - time.monotonic())):
                    break
                now = time.monotonic()
                max_late = max(max_late, now - due)
                info = client.publish(frame_topic, payload, qos=0)
                if info.rc == 0:
                    sent += 1
                    first = now if first is None else first
                    last = now
                else:
                    dropped += 1
            else:
                passes += 1
                if loop:
                    continue
            break
        if info is not None and info.rc == 0:
            info.wait_for_publish(PUBLISH_TIMEOUT_S)
    finally:
        try:
            _confirm(client.publish(status_topic, offline, qos=1, retain=True), "the offline status")
        finally:
            close(client)
    span = (last - first) if first is not None and last is not None else 0.0
    return ReplayResult(sent, dropped, passes, span, max_late)


def _confirm(info, what: str) -> None:
    """Wait until the broker acknowledged a QoS 1 publication; LinkError if it did not."""
    try:
        info.wait_for_publish(PUBLISH_TIMEOUT_S)
    except (RuntimeError, ValueError) as exc:
        raise LinkError(f"could not publish {what}: {exc}") from None
    if not info.is_published():
        raise LinkError(f"the broker did not acknowledge {what} within {PUBLISH_TIMEOUT_S:g} s")
