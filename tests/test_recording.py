"""Recordings: the file format, recording a live gate, and replaying, against a real mosquitto.

Gates speak protocol version 2 (each message tagged under the gate's sensor key); a recording keeps the
version-1 layout (header and words, no tag), and a replay seals every message again under the key of the
gate it plays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from controller.cli import main
from controller.mqtt.link import Broker, LinkError, parse_broker
from controller.protocol import (
    UNVERIFIED,
    ProtocolError,
    decode_eeprom,
    decode_frame,
    decode_status,
    encode_eeprom,
    encode_frame,
    sensor_key,
    status_payload,
)
from controller.recording import FORMAT, Recording, RecordingError, synthesize, unsealed_eeprom, unsealed_frame
from controller.sensor.frame import control_word
from sim.broker import MosquittoBroker, free_port
from sim.gate_config import simulator_key
from sim.recorder import RecordError, record
from sim.replay import replay

CREATED = datetime(2025, 3, 4, 7, 58, 12, 512345, tzinfo=timezone.utc)


def ks(gate_id: str) -> bytes:
    """The sensor key a simulated gate of this id seals its messages with."""
    return sensor_key(simulator_key(gate_id))


# ---------------------------------------------------------------- helpers


def sensor_words(n: int, seed: int = 0, refresh_hz: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """An EEPROM and n subpages of arbitrary words that pass the protocol's checks."""
    rng = np.random.default_rng(seed)
    eeprom = rng.integers(0, 1 << 16, 832, dtype=np.uint16)
    frames = rng.integers(0, 1 << 16, (n, 834), dtype=np.uint16)
    frames[:, 832] = control_word(refresh_hz=refresh_hz)
    frames[:, 833] = np.arange(n) % 2
    return eeprom, frames


def sample(n: int = 24, rate_hz: float = 20.0, gate_id: str = "north-1", seed: int = 0, **kwargs) -> Recording:
    eeprom, frames = sensor_words(n, seed)
    truths = [{"people": i % 3, "face_c": 36.5 + 0.1 * i} for i in range(n)]
    return synthesize(eeprom, frames, 10.0 + np.arange(n) / rate_hz, truths, gate_id=gate_id, boot_id=0xC0FFEE,
                      created=CREATED, **kwargs)


def client(broker: MosquittoBroker, name: str) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{name}-{os.urandom(4).hex()}")
    c.connect(broker.host, broker.port)
    return c


class Listener:
    """A paho subscriber keeping (monotonic time, topic, payload, retain) of everything it receives."""

    def __init__(self, broker: MosquittoBroker, topic_filter: str):
        self.messages: list[tuple[float, str, bytes, bool]] = []
        subscribed = threading.Event()
        self.client = client(broker, "listener")
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.messages.append(
            (time.monotonic(), m.topic, bytes(m.payload), bool(m.retain)))
        self.client.subscribe(topic_filter, qos=1)
        self.client.loop_start()
        assert subscribed.wait(5), "no SUBACK"

    def of(self, suffix: str) -> list[tuple[float, str, bytes, bool]]:
        return [m for m in self.messages if m[1].endswith("/" + suffix)]

    def wait_for(self, predicate, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"timed out; got {len(self.messages)} messages"
            time.sleep(0.01)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FakeGate:
    """Publishes like a gate: retained EEPROM and status, then frames every ``interval`` s until stopped.

    Every ``corrupt_every``-th publication is a frame with a broken CRC. Messages are protocol version 2
    under the gate's sensor key, or version 1 with ``version=1``."""

    def __init__(self, broker: MosquittoBroker, gate_id: str, interval: float = 0.02, corrupt_every: int = 0,
                 version: int = 2):
        self.gate_id, self.interval, self.corrupt_every = gate_id, interval, corrupt_every
        self.key = ks(gate_id) if version == 2 else None
        self.eeprom_words, self.frame_words = sensor_words(64, seed=7)
        self.eeprom = encode_eeprom(self.eeprom_words, 77, key=self.key)
        self.published: list[bytes] = []  # valid frames, in order
        if version == 2:
            self.status = status_payload(self.key, {"gate": gate_id, "online": False, "boot": 77})
        else:
            self.status = json.dumps({"v": 1, "gate": gate_id, "online": False, "boot": 77}).encode()
        self._stop = threading.Event()
        self.client = client(broker, "gate")
        self.client.loop_start()
        self.client.publish(f"thermogate/{gate_id}/eeprom", self.eeprom, qos=1, retain=True).wait_for_publish(5)
        self.client.publish(f"thermogate/{gate_id}/status", self.status, qos=1, retain=True).wait_for_publish(5)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seq = 0
        start = time.monotonic()
        while not self._stop.wait(max(0.0, start + (seq + 1) * self.interval - time.monotonic())):
            seq += 1
            payload = encode_frame(self.frame_words[seq % 64], 77, seq, 1000 + 20 * seq, key=self.key)
            if self.corrupt_every and seq % self.corrupt_every == 0:
                payload = payload[:100] + bytes([payload[100] ^ 0xFF]) + payload[101:]
            else:
                self.published.append(payload)
            self.client.publish(f"thermogate/{self.gate_id}/frame", payload, qos=0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.client.publish(f"thermogate/{self.gate_id}/eeprom", b"", qos=1, retain=True).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> FakeGate:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def contiguous_in(recorded: list[bytes], published: list[bytes]) -> bool:
    """Whether ``recorded`` is a run of consecutive entries of ``published``."""
    if not recorded or recorded[0] not in published:
        return False
    j = published.index(recorded[0])
    return published[j:j + len(recorded)] == recorded


def rewrite(path: Path, **changes) -> Path:
    """The recording at ``path`` rewritten with numpy's own np.savez; a change of None drops the array."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    out = path.with_name("changed.npz")
    np.savez(out, **arrays)
    return out


@pytest.fixture(scope="module")
def broker():
    with MosquittoBroker() as b:
        yield b


# ---------------------------------------------------------------- the format


def test_save_load_round_trip(tmp_path):
    rec = sample()
    rec.status = ('{"v":1,"gate":"north-1","online":false,"boot":1}',)
    rec.status_times = np.array([-0.25])
    rec.meta = {"scenario": "two-children", "seed": 3}
    path = rec.save(tmp_path / "north.rec")  # used as given: no .npz added
    assert path == tmp_path / "north.rec" and path.exists() and zipfile.is_zipfile(path)

    back = Recording.load(path)
    assert (back.gate_id, back.source, back.created, back.meta) == ("north-1", "synthetic", CREATED, rec.meta)
    assert back.eeprom == rec.eeprom and back.eeprom_message().boot_id == 0xC0FFEE
    assert back.frame_payloads.shape == (24, 1692) and back.frame_payloads.dtype == np.uint8
    np.testing.assert_array_equal(back.frame_payloads, rec.frame_payloads)
    np.testing.assert_array_equal(back.frame_times, rec.frame_times)
    np.testing.assert_allclose(back.frame_times, np.arange(24) / 20.0, atol=1e-9)
    assert back.status == rec.status and back.status_times.tolist() == [-0.25]
    assert back.truth == rec.truth and back.duration == pytest.approx(23 / 20)

    frames = list(back.frames())
    assert [f.message.sequence for f in frames] == list(range(1, 25))
    assert [f.message.subpage for f in frames] == [i % 2 for i in range(24)]
    assert frames[5].time == pytest.approx(0.25) and frames[5].message.board_ms == 250
    assert frames[5].truth == {"people": 2, "face_c": pytest.approx(37.0)}
    np.testing.assert_array_equal(frames[3].message.words, sensor_words(24)[1][3])

    with np.load(path, allow_pickle=False) as f:  # plain numpy reads it, without pickle
        assert str(f["format"]) == FORMAT and int(f["version"]) == 1
        assert set(f.files) == {"format", "version", "gate_id", "source", "created", "eeprom", "frames",
                                "frame_times", "meta", "status", "status_times", "truth"}
    assert rec.save(tmp_path / "again.npz").read_bytes() == path.read_bytes()  # deterministic bytes


def test_recording_without_optional_arrays(tmp_path):
    eeprom, frames = sensor_words(3)
    rec = synthesize(eeprom, frames, [0.0, 0.125, 0.25], gate_id="g1")
    back = Recording.load(rec.save(tmp_path / "g.npz"))
    assert back.truth is None and back.status == () and [f.truth for f in back.frames()] == [None] * 3
    assert back.eeprom_message().boot_id == rec.eeprom_message().boot_id  # default boot id: reproducible


def test_synthesize_refuses_bad_input():
    eeprom, frames = sensor_words(3)
    with pytest.raises(RecordingError, match="2 times for 3 frames"):
        synthesize(eeprom, frames, [0.0, 0.1])
    with pytest.raises(RecordingError, match="non-decreasing"):
        synthesize(eeprom, frames, [0.0, 0.2, 0.1])
    with pytest.raises(RecordingError, match="2 ground-truth entries for 3 frames"):
        synthesize(eeprom, frames, [0, 1, 2], [{}, {}])
    with pytest.raises(RecordingError, match="invalid gate id"):
        synthesize(eeprom, frames, [0, 1, 2], gate_id="North 1")
    frames[1, 833] = 2
    with pytest.raises(RecordingError, match="frame 1 does not decode: subpage"):
        synthesize(eeprom, frames, [0, 1, 2])


@pytest.fixture
def saved(tmp_path) -> Path:
    return sample().save(tmp_path / "good.npz")


def _corrupt_frame(saved: Path) -> np.ndarray:
    with np.load(saved, allow_pickle=False) as f:
        frames = f["frames"].copy()
    frames[3, 500] ^= 0x01
    return frames


@pytest.mark.parametrize("change, message", [
    ({}, None),  # written by np.savez itself: still a valid recording
    ({"format": np.array("something-else")}, "format is 'something-else', expected 'thermogate-recording'"),
    ({"format": None}, "the array 'format' is missing"),
    ({"version": np.array(2)}, "version 2 was written by a newer thermogate; this one reads versions up to 1"),
    ({"version": np.array(0)}, "version 0 is not a valid"),
    ({"frames": "corrupt"}, r"frame 3 does not decode: crc: CRC 0x[0-9A-F]{8} does not match"),
    ({"frames": np.zeros((24, 1691), np.uint8)},
     r"'frames' must be uint8 of shape \(N x 1692\), got uint8 \(24, 1691\)"),
    ({"frames": np.zeros((24, 1692), np.int16)}, r"'frames' must be uint8"),
    ({"eeprom": np.zeros(1692, np.uint8)}, r"'eeprom' must be uint8 of shape \(1688\)"),
    ({"eeprom": np.zeros(1688, np.uint8)}, "the EEPROM message does not decode: magic"),
    ({"eeprom": None}, "the array 'eeprom' is missing"),
    ({"frame_times": np.zeros(23)}, r"frame_times must be 24 numbers \(one per frame\)"),
    ({"frame_times": np.arange(24.0)[::-1].copy()}, "frame_times must start at 0"),
    ({"truth": np.array(["{}"] * 23)}, "23 ground-truth entries for 24 frames"),
    ({"truth": np.array(["{"] * 24)}, "ground truth of frame 0 is not JSON"),
    ({"source": np.array("camera")}, "source is 'camera'"),
    ({"gate_id": np.array("North")}, "invalid gate id 'North'"),
    ({"created": np.array("yesterday")}, "created is 'yesterday', not an ISO 8601 time"),
    ({"status": np.array(["{}"])}, "status and status_times go together"),
    ({"meta": np.array([1, 2], dtype=object)}, "the array 'meta' cannot be read"),
])
def test_load_refuses_bad_files(saved, change, message):
    if isinstance(change.get("frames"), str):
        change = {"frames": _corrupt_frame(saved)}
    path = rewrite(saved, **change)
    if message is None:
        assert Recording.load(path).truth == sample().truth
        return
    with pytest.raises(RecordingError) as err:
        Recording.load(path)
    assert str(err.value).startswith(f"{path}: ")
    assert err.match(message)


def test_load_refuses_files_that_are_not_recordings(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(RecordingError, match=r"notes.txt: not a thermogate-recording file \(not a ZIP/.npz"):
        Recording.load(text)
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(RecordingError, match="not a ZIP"):
        Recording.load(npy)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(RecordingError, match="the array 'format' is missing"):
        Recording.load(other_zip)
    with pytest.raises(RecordingError, match="missing.npz: No such file"):
        Recording.load(tmp_path / "missing.npz")


def test_parse_broker():
    assert parse_broker("localhost") == Broker("localhost", 1883)
    assert parse_broker("10.0.0.2:1884") == Broker("10.0.0.2", 1884)
    assert parse_broker("mqtt://u:p%40ss@broker.lan:8883") == Broker("broker.lan", 8883, "u", "p@ss")
    assert parse_broker("[::1]:1885") == Broker("::1", 1885)
    for bad in ("mqtts://host", "host:port", "mqtt://host/path", ""):
        with pytest.raises(ValueError, match="broker"):
            parse_broker(bad)


# ---------------------------------------------------------------- recording a live gate


@pytest.mark.parametrize("version", [2, 1])
def test_record_a_live_gate(broker, version):
    with FakeGate(broker, "live-1", interval=0.02, corrupt_every=10, version=version) as gate:
        time.sleep(0.1)  # the gate is running before the recording starts, as in real life
        started = time.monotonic()
        rec = record(broker.host, broker.port, "live-1", 1.0)
        took = time.monotonic() - started
    assert 0.95 < took < 3.0
    assert rec.source == "live" and rec.gate_id == "live-1" and rec.eeprom == unsealed_eeprom(gate.eeprom)
    assert len(rec.eeprom) == 1688 and (version == 2) == (rec.eeprom != gate.eeprom)
    payloads = [rec.payload(i) for i in range(len(rec))]
    assert 30 <= len(payloads) <= 60
    # In order, no valid frame lost; header and words as sent (a version-1 gate's bytes exactly).
    assert contiguous_in(payloads, [unsealed_frame(p) for p in gate.published])
    if version == 2:
        assert all(len(p) == 1708 for p in gate.published) and all(len(p) == 1692 for p in payloads)
    assert rec.meta["protocol_versions"] == {str(version): len(rec) + 1}  # the frames and the EEPROM
    assert rec.meta["frames_refused"]["crc"] >= 3 and rec.meta["eeprom_messages"] == 1
    gaps = np.diff(rec.frame_times)
    assert rec.frame_times[0] == 0.0 and np.all(gaps >= 0)
    assert 0.015 < np.median(gaps) < 0.04  # 20 ms apart, but every 10th publication was refused
    assert 0.6 < rec.duration < 1.05
    assert rec.status == (gate.status.decode(),) and rec.status_times[0] < 0  # retained, before the first frame
    assert [f.message.sequence for f in rec.frames()] == [decode_frame(p, UNVERIFIED).sequence for p in payloads]


def test_record_without_eeprom_fails(broker):
    with pytest.raises(RecordError, match="no EEPROM message arrived on thermogate/silent-1/eeprom"):
        record(broker.host, broker.port, "silent-1", 0.3)


def test_record_without_frames_fails(broker):
    c = client(broker, "gate")
    c.loop_start()
    c.publish("thermogate/quiet-1/eeprom", encode_eeprom(sensor_words(1)[0], 5, key=ks("quiet-1")), qos=1,
              retain=True).wait_for_publish(5)
    try:
        with pytest.raises(RecordError, match="no frame arrived on thermogate/quiet-1/frame"):
            record(broker.host, broker.port, "quiet-1", 0.3)
    finally:
        c.publish("thermogate/quiet-1/eeprom", b"", qos=1, retain=True).wait_for_publish(5)
        c.disconnect()
        c.loop_stop()


def test_record_without_broker_fails():
    with pytest.raises(LinkError, match="cannot connect to the MQTT broker at mqtt://127.0.0.1"):
        record("127.0.0.1", free_port(), "north-1", 0.3)


# ---------------------------------------------------------------- replay


def _check_replay(listener: Listener, rec: Recording, gate: str) -> None:
    """EEPROM, online status, every frame in order, offline status: all version 2 under the gate's key,
    with the recording's header fields and words."""
    key = ks(gate)
    listener.wait_for(lambda: any(not decode_status(m[2], key).online for m in listener.of("status")))
    topics = [m[1] for m in listener.messages]
    assert topics[:2] == [f"thermogate/{gate}/eeprom", f"thermogate/{gate}/status"]
    assert topics[-1] == f"thermogate/{gate}/status"
    assert listener.messages[0][2] == rec.sealed_eeprom(key)
    eeprom = decode_eeprom(listener.messages[0][2], key)
    assert eeprom.version == 2 and (eeprom.words == rec.eeprom_message().words).all()
    frames = [m[2] for m in listener.of("frame")]
    assert frames == rec.sealed_payloads(key)
    for sent, stored in zip(frames, rec.frames(), strict=True):
        got = decode_frame(sent, key)
        assert (got.boot_id, got.sequence, got.board_ms, got.flags) == (
            stored.message.boot_id, stored.message.sequence, stored.message.board_ms, stored.message.flags)
        assert (got.words == stored.message.words).all()
    online, offline = (decode_status(m[2], key) for m in listener.of("status"))
    boot = rec.eeprom_message().boot_id
    assert (online.gate_id, online.online, online.boot_id, online.sensor_ok) == (gate, True, boot, True)
    assert (offline.gate_id, offline.online, offline.boot_id) == (gate, False, boot)


def test_replay_is_byte_exact_and_on_time(broker):
    rec = sample(24, rate_hz=20.0, gate_id="replay-1")
    with Listener(broker, "thermogate/replay-1/#") as listener:
        result = replay(rec, broker.host, broker.port)
        _check_replay(listener, rec, "replay-1")
        times = [m[0] for m in listener.of("frame")]
    assert (result.frames_sent, result.frames_dropped, result.passes) == (24, 0, 1)
    assert 1.0 < times[-1] - times[0] < 1.6  # 23 intervals of 50 ms
    assert result.max_late_s < 0.1
    with Listener(broker, "thermogate/replay-1/#") as late:  # what a controller connecting later sees
        late.wait_for(lambda: len(late.messages) == 2, timeout=5)
        retained = {m[1].rsplit("/", 1)[1]: m for m in late.messages}
    assert retained["eeprom"][2] == rec.sealed_eeprom(ks("replay-1")) and retained["eeprom"][3] is True
    assert not decode_status(retained["status"][2], ks("replay-1")).online and retained["status"][3] is True


def test_replay_at_20x(broker):
    rec = sample(160, rate_hz=8.0, gate_id="fast-1")  # 19.875 s of frames
    expected = rec.duration / 20
    with Listener(broker, "thermogate/fast-1/#") as listener:
        started = time.monotonic()
        result = replay(rec, broker.host, broker.port, speed=20)
        took = time.monotonic() - started
        _check_replay(listener, rec, "fast-1")
        times = [m[0] for m in listener.of("frame")]
    print(f"\nreplay of {len(rec)} frames ({rec.duration:.3f} s) at 20x: {took:.3f} s in all, "
          f"{times[-1] - times[0]:.3f} s first to last frame received (schedule {expected:.3f} s), "
          f"at most {1000 * result.max_late_s:.2f} ms late")
    assert 0.9 * expected < times[-1] - times[0] < expected + 1.0
    assert took < expected + 2.0


def test_replay_under_another_gate_id(broker):
    rec = sample(10, rate_hz=50.0, gate_id="north-1")
    with Listener(broker, "thermogate/north-1/#") as original, Listener(broker, "thermogate/east-2/#") as other:
        result = replay(rec, broker.host, broker.port, gate_id="east-2", speed=5)
        _check_replay(other, rec, "east-2")
        time.sleep(0.1)
        assert original.messages == []
    assert result.frames_sent == 10
    with pytest.raises(ProtocolError) as info:  # sealed for east-2: worth nothing as north-1's
        decode_frame(other.of("frame")[0][2], ks("north-1"))
    assert info.value.reason == "mac"


def test_replay_under_a_given_key(broker):
    rec = sample(4, rate_hz=50.0, gate_id="keyed-1")
    key = bytes(range(32))
    with Listener(broker, "thermogate/keyed-1/#") as listener:
        replay(rec, broker.host, broker.port, key=key, speed=5)
        listener.wait_for(lambda: len(listener.of("status")) == 2)
        frames = [m[2] for m in listener.of("frame")]
    assert [decode_frame(p, sensor_key(key)).sequence for p in frames] == [1, 2, 3, 4]


def test_replay_loop_until_stopped(broker):
    rec = sample(8, rate_hz=50.0, gate_id="loop-1")
    stop = threading.Event()
    with Listener(broker, "thermogate/loop-1/frame") as listener:
        watcher = threading.Thread(target=lambda: (listener.wait_for(lambda: len(listener.messages) >= 20),
                                                   stop.set()))
        watcher.start()
        result = replay(rec, broker.host, broker.port, loop=True, speed=2, stop=stop)
        watcher.join()
        listener.wait_for(lambda: len(listener.messages) == result.frames_sent, timeout=5)
        frames = [m[2] for m in listener.messages]
    assert result.passes >= 2 and result.frames_sent >= 20
    sealed = rec.sealed_payloads(ks("loop-1"))
    assert frames == [sealed[i % 8] for i in range(len(frames))]  # same bytes every pass


def test_recording_a_replay(broker):
    rec = sample(40, rate_hz=8.0, gate_id="echo-1")  # 4.875 s, about 0.5 s per pass at 10x
    stop = threading.Event()
    outcome = {}
    player = threading.Thread(target=lambda: outcome.setdefault(
        "replay", replay(rec, broker.host, broker.port, speed=10, loop=True, stop=stop)))
    player.start()
    try:
        again = record(broker.host, broker.port, "echo-1", 1.2)
    finally:
        stop.set()
        player.join()
    assert again.source == "replay" and again.eeprom == rec.eeprom
    originals = [rec.payload(i) for i in range(len(rec))]
    first = originals.index(again.payload(0))
    assert [again.payload(i) for i in range(len(again))] == [originals[(first + i) % 40] for i in range(len(again))]
    assert np.median(np.diff(again.frame_times)) == pytest.approx(0.0125, abs=0.005)


def test_replay_survives_a_broker_restart():
    rec = sample(50, rate_hz=20.0, gate_id="restart-1")  # 2.45 s
    with MosquittoBroker() as own:  # no persistence: a restart loses the retained messages
        timer = threading.Timer(0.8, own.restart, kwargs={"down_for": 0.4})
        timer.start()
        result = replay(rec, own.host, own.port)
        timer.join()
        with Listener(own, "thermogate/restart-1/#") as late:
            late.wait_for(lambda: len(late.messages) == 2, timeout=5)
            retained = {m[1].rsplit("/", 1)[1]: m[2] for m in late.messages}
    assert result.frames_dropped > 0 and result.frames_sent + result.frames_dropped == 50
    assert retained["eeprom"] == rec.sealed_eeprom(ks("restart-1"))  # published again after reconnecting
    assert not decode_status(retained["status"], ks("restart-1")).online


def test_replay_refuses_bad_arguments(broker):
    rec = sample(3)
    with pytest.raises(ValueError, match="speed must be a positive number"):
        replay(rec, broker.host, broker.port, speed=0)
    with pytest.raises(ValueError, match="invalid gate id"):
        replay(rec, broker.host, broker.port, gate_id="East 2")


# ---------------------------------------------------------------- command line


def test_cli_sim_replay_help():
    exe = Path(sys.executable).with_name("thermogate")
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "controller.cli"]
    out = subprocess.run(argv + ["sim", "replay", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for option in ("FILE", "--gate", "--speed", "--loop", "--broker"):
        assert option in out.stdout
    top = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=60)
    assert "record" in top.stdout and "sim" in top.stdout and "flash" in top.stdout


def test_cli_record_then_replay(broker, tmp_path, capsys):
    path = tmp_path / "cli.npz"
    with FakeGate(broker, "cli-1") as gate:
        time.sleep(0.1)
        code = main(["record", "cli-1", "-o", str(path), "--seconds", "0.8", "--broker", broker.url])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert str(path) in out and "recording gate cli-1" in err
    rec = Recording.load(path)
    assert rec.source == "live" and len(rec) > 20
    assert contiguous_in([rec.payload(i) for i in range(len(rec))], [unsealed_frame(p) for p in gate.published])

    with Listener(broker, "thermogate/cli-2/#") as listener:
        code = main(["sim", "replay", str(path), "--gate", "cli-2", "--speed", "4",
                     "--broker", f"{broker.host}:{broker.port}"])
        out, err = capsys.readouterr()
        assert code == 0, err
        _check_replay(listener, rec, "cli-2")
    assert f"{len(rec)} frames sent" in out


def test_cli_errors(broker, tmp_path, capsys):
    junk = tmp_path / "junk.npz"
    junk.write_text("not a recording")
    assert main(["sim", "replay", str(junk), "--broker", broker.url]) == 2
    assert "not a thermogate-recording file" in capsys.readouterr().err
    assert main(["record", "north-1", "-o", str(tmp_path / "x.npz"), "--seconds", "1",
                 "--broker", "mqtts://host"]) == 2
    assert "only mqtt:// is supported" in capsys.readouterr().err
    assert main(["record", "nobody-1", "-o", str(tmp_path / "x.npz"), "--seconds", "0.3",
                 "--broker", broker.url]) == 1
    assert "no EEPROM message arrived" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_cli_replay_under_a_site_gates_key(broker, tmp_path, capsys):
    """`sim replay --site DIR` seals under that site's key of the gate, which the controller's registry holds."""
    from controller.site import gates as site_registry

    site = tmp_path / "site"
    site_registry.add_gate(site, "site-1")
    key = bytes.fromhex(site_registry.load_secrets(site).gates["site-1"].hmac_key)
    path = tmp_path / "r.npz"
    sample(4, rate_hz=50.0, gate_id="site-1").save(path)
    with Listener(broker, "thermogate/site-1/frame") as listener:
        code = main(["sim", "replay", str(path), "--site", str(site), "--speed", "5",
                     "--broker", f"{broker.host}:{broker.port}"])
        assert code == 0, capsys.readouterr().err
        listener.wait_for(lambda: len(listener.messages) == 4)
    assert [decode_frame(m[2], sensor_key(key)).sequence for m in listener.messages] == [1, 2, 3, 4]
    assert main(["sim", "replay", str(path), "--site", str(site), "--gate", "nobody-2",
                 "--broker", f"{broker.host}:{broker.port}"]) == 1
    assert "no secrets for gate 'nobody-2'" in capsys.readouterr().err
