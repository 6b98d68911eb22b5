"""Recordings of one gate's traffic: the format, and synthetic recordings.

A recording is a numpy ``.npz`` file (a ZIP archive of ``.npy`` arrays, read
with ``allow_pickle=False``) holding, for one gate, the EEPROM message and
every frame message with their times. The messages are kept in the
version-1 layout of docs/protocol.md: the sensor's words and the header as
the gate sent them, without the tag of protocol version 2 (a tag belongs to
one gate's key; a replay seals every message again under the key of the gate
it plays). The layout is specified array by array in docs/recordings.md.

- :class:`Recording` -- the data, ``save(path)`` / ``Recording.load(path)``,
  ``frames()`` yields each decoded frame with its time and ground truth
- :func:`synthesize` -- a recording made from sensor words, without MQTT
- :class:`RecordingError` -- a file or recording that is not valid (a ValueError)

``thermogate analyze`` and ``calibrate`` read recordings
(controller/screening/offline.py); recording a live gate and replaying a
recording over MQTT are the simulator's (sim/recorder.py, sim/replay.py).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, NamedTuple, overload

import numpy as np

from .protocol import (
    UNVERIFIED,
    EepromMessage,
    FrameMessage,
    ProtocolError,
    decode_eeprom,
    decode_frame,
    encode_eeprom,
    encode_frame,
    valid_gate_id,
)
from .protocol.binary import EEPROM_BYTES_V1 as EEPROM_BYTES
from .protocol.binary import FRAME_BYTES_V1 as FRAME_BYTES
from .protocol.binary import VERSION_1
from .sensor.frame import FRAME_WORDS

FORMAT = "thermogate-recording"
VERSION = 1
SOURCES = ("live", "synthetic", "replay")
BOARD_MS_WRAP = 1 << 30

# Member order in the archive; optional arrays are left out when empty.
_REQUIRED = ("format", "version", "gate_id", "source", "created", "eeprom", "frames", "frame_times")
_OPTIONAL = ("meta", "status", "status_times", "truth")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: the same recording always saves to the same bytes


class RecordingError(ValueError):
    """A recording, or a file claiming to be one, that is not valid."""


class RecordedFrame(NamedTuple):
    """One frame of a recording: the decoded message, its time and its ground truth."""

    message: FrameMessage
    time: float  # seconds after the first frame
    truth: Any  # the parsed ground-truth JSON, or None when the recording has none


@dataclass(eq=False)
class Recording:
    """The traffic of one gate: EEPROM message, frame messages and their times.

    ``frame_payloads`` holds the frame messages in the version-1 layout, one
    row of 1692 bytes each (the ``frames`` array of the file);
    ``frame_times`` the seconds after the first frame at which each was
    received (live) or is due (synthetic). ``status`` holds the status
    messages seen, as text, at ``status_times`` (same clock; a retained
    status received before the first frame has a negative time). ``truth``
    holds one JSON text per frame, or is None.

    The structure is checked on construction and again by :meth:`validate`
    (which :meth:`save` and :meth:`load` call), which also decodes every
    message.
    """

    gate_id: str
    source: str
    eeprom: bytes
    frame_payloads: np.ndarray
    frame_times: np.ndarray
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    status: tuple[str, ...] = ()
    status_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    truth: tuple[str, ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_structure()

    def _check_structure(self) -> None:
        """Types, shapes and times; normalises arrays and sequences in place."""
        if not valid_gate_id(self.gate_id):
            raise RecordingError(f"invalid gate id {self.gate_id!r}: use lowercase letters, digits and hyphens")
        if self.source not in SOURCES:
            raise RecordingError(f"source is {self.source!r}, expected one of {', '.join(SOURCES)}")
        if not isinstance(self.created, datetime) or self.created.tzinfo is None:
            raise RecordingError("created must be a datetime with a time zone")
        self.eeprom = bytes(self.eeprom)
        if len(self.eeprom) != EEPROM_BYTES:
            raise RecordingError(f"the EEPROM message has {len(self.eeprom)} bytes, expected {EEPROM_BYTES}")
        frames = np.asarray(self.frame_payloads)
        if frames.dtype != np.uint8 or frames.ndim != 2 or frames.shape[1] != FRAME_BYTES:
            raise RecordingError(f"frame payloads must be uint8 of shape (N, {FRAME_BYTES}), got {frames.dtype} "
                                 f"{frames.shape}")
        self.frame_payloads = np.ascontiguousarray(frames)
        n = len(frames)
        self.frame_times = _times(self.frame_times, n, "frame_times", "frames")
        if n and self.frame_times[0] != 0.0:
            raise RecordingError(f"frame_times must start at 0 (the first frame), got {self.frame_times[0]}")
        if np.any(np.diff(self.frame_times) < 0):
            i = int(np.argmax(np.diff(self.frame_times) < 0)) + 1
            raise RecordingError(f"frame_times must not decrease: frame {i} is at {self.frame_times[i]} s, "
                                 f"before frame {i - 1} at {self.frame_times[i - 1]} s")
        self.status = tuple(self.status)
        if not all(isinstance(s, str) for s in self.status):
            raise RecordingError("status must be a sequence of strings")
        self.status_times = _times(self.status_times, len(self.status), "status_times", "status messages")
        if self.truth is not None:
            self.truth = tuple(self.truth)
            if len(self.truth) != n:
                raise RecordingError(f"{len(self.truth)} ground-truth entries for {n} frames")
            if not all(isinstance(t, str) for t in self.truth):
                raise RecordingError("truth must be a sequence of JSON strings")
        if not isinstance(self.meta, dict):
            raise RecordingError(f"meta must be a dict, got {type(self.meta).__name__}")

    # ------------------------------------------------------------ access

    def __len__(self) -> int:
        return len(self.frame_payloads)

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the last (0 for fewer than two frames)."""
        return float(self.frame_times[-1]) if len(self) else 0.0

    def payload(self, index: int) -> bytes:
        """Frame ``index`` as stored (the version-1 layout, no tag)."""
        return self.frame_payloads[index].tobytes()

    def eeprom_message(self) -> EepromMessage:
        return read_message(self.eeprom, decode_eeprom)

    def sealed_eeprom(self, key: bytes) -> bytes:
        """The EEPROM message as protocol version 2 under the sensor key ``key`` (see sim.replay)."""
        m = self.eeprom_message()
        return encode_eeprom(m.words, m.boot_id, key=key)

    def sealed_payloads(self, key: bytes) -> list[bytes]:
        """Every frame as protocol version 2 under the sensor key ``key``: same header fields and words."""
        out = []
        for i in range(len(self)):
            m = read_message(self.payload(i), decode_frame)
            out.append(encode_frame(m.words, m.boot_id, m.sequence, m.board_ms, m.flags, key=key))
        return out

    def payloads(self) -> Iterator[tuple[float, bytes]]:
        """(time, payload) of every frame, in order, as stored (version-1 layout)."""
        for i in range(len(self)):
            yield float(self.frame_times[i]), self.frame_payloads[i].tobytes()

    def frames(self) -> Iterator[RecordedFrame]:
        """Every frame decoded, with its time and parsed ground truth (or None)."""
        for i, (t, payload) in enumerate(self.payloads()):
            truth = json.loads(self.truth[i]) if self.truth is not None else None
            yield RecordedFrame(read_message(payload, decode_frame), t, truth)

    # ------------------------------------------------------------ validation

    def validate(self) -> None:
        """Check the structure, that every message decodes (CRC included) and the texts are JSON."""
        self._check_structure()
        try:
            read_message(self.eeprom, decode_eeprom)
        except ProtocolError as exc:
            raise RecordingError(f"the EEPROM message does not decode: {exc}") from None
        for i in range(len(self)):
            try:
                read_message(self.frame_payloads[i].tobytes(), decode_frame)
            except ProtocolError as exc:
                raise RecordingError(f"frame {i} does not decode: {exc}") from None
        if self.truth is not None:
            for i, text in enumerate(self.truth):
                _json(text, f"ground truth of frame {i}")
        try:
            json.dumps(self.meta, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise RecordingError(f"meta is not JSON-serialisable: {exc}") from None

    # ------------------------------------------------------------ files

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the file, in archive order (docs/recordings.md)."""
        out: dict[str, np.ndarray] = {
            "format": np.array(FORMAT, dtype="<U"),
            "version": np.array(VERSION, dtype="<i8"),
            "gate_id": np.array(self.gate_id, dtype="<U"),
            "source": np.array(self.source, dtype="<U"),
            "created": np.array(self.created.isoformat(), dtype="<U"),
            "eeprom": np.frombuffer(self.eeprom, dtype=np.uint8),
            "frames": self.frame_payloads,
            "frame_times": self.frame_times.astype("<f8"),
            "meta": np.array(json.dumps(self.meta, sort_keys=True, separators=(",", ":")), dtype="<U"),
        }
        if self.status:
            out["status"] = np.array(self.status, dtype="<U")
            out["status_times"] = self.status_times.astype("<f8")
        if self.truth is not None:
            out["truth"] = np.array(self.truth, dtype="<U") if self.truth else np.zeros(0, dtype="<U1")
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Validate, then write atomically to ``path`` (used as given: no extension is added)."""
        self.validate()
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
        try:
            with os.fdopen(fd, "wb") as f:
                with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                    for name, array in self.arrays().items():
                        info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
                        info.compress_type = zipfile.ZIP_DEFLATED
                        info.external_attr = 0o644 << 16
                        with zf.open(info, "w", force_zip64=True) as member:
                            np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Recording:
        """Read and fully validate a recording; RecordingError saying what is wrong."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RecordingError(f"{path}: {exc.strerror}") from None
        try:
            return cls.from_bytes(data)
        except RecordingError as exc:
            raise RecordingError(f"{path}: {exc}") from None

    @classmethod
    def from_bytes(cls, data: bytes) -> Recording:
        """A recording from the bytes of its file."""
        buffer = io.BytesIO(data)
        if not zipfile.is_zipfile(buffer):
            raise RecordingError(f"not a {FORMAT} file (not a ZIP/.npz archive)")
        buffer.seek(0)
        try:
            npz = np.load(buffer, allow_pickle=False)
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise RecordingError(f"not a readable .npz archive ({exc})") from None
        with npz:
            reader = _Reader(npz)
            name = reader.text("format", required=True)
            if name != FORMAT:
                raise RecordingError(f"format is {name!r}, expected {FORMAT!r}")
            version = reader.integer("version")
            if version > VERSION:
                raise RecordingError(f"{FORMAT} version {version} was written by a newer thermogate; "
                                     f"this one reads versions up to {VERSION}: upgrade thermogate")
            if version < 1:
                raise RecordingError(f"version {version} is not a valid {FORMAT} version")
            created_text = reader.text("created", required=True)
            try:
                created = datetime.fromisoformat(created_text)
            except ValueError:
                raise RecordingError(f"created is {created_text!r}, not an ISO 8601 time") from None
            if created.tzinfo is None:
                raise RecordingError(f"created is {created_text!r}, without a time zone")
            meta = _json(reader.text("meta") or "{}", "meta")
            if not isinstance(meta, dict):
                raise RecordingError("meta must be a JSON object")
            status = reader.texts("status")
            status_times = reader.array("status_times")
            if (status is None) != (status_times is None):
                raise RecordingError("status and status_times go together: one of them is missing")
            recording = cls(
                gate_id=reader.text("gate_id", required=True),
                source=reader.text("source", required=True),
                created=created,
                eeprom=reader.bytes("eeprom", (EEPROM_BYTES,)).tobytes(),
                frame_payloads=reader.bytes("frames", (None, FRAME_BYTES)),
                frame_times=reader.array("frame_times", required=True),
                status=status or (),
                status_times=status_times if status_times is not None else np.zeros(0),
                truth=reader.texts("truth"),
                meta=meta,
            )
        recording.validate()
        return recording


class _Reader:
    """Typed access to the arrays of an open npz file, with errors naming the array."""

    def __init__(self, npz):
        self.npz = npz

    @overload
    def array(self, name: str, required: Literal[True]) -> np.ndarray: ...
    @overload
    def array(self, name: str, required: bool = False) -> np.ndarray | None: ...

    def array(self, name: str, required: bool = False) -> np.ndarray | None:
        """The array ``name``; None if it is absent and not ``required`` (RecordingError if it is)."""
        if name not in self.npz.files:
            if required:
                raise RecordingError(f"the array {name!r} is missing")
            return None
        try:
            return self.npz[name]
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise RecordingError(f"the array {name!r} cannot be read ({exc})") from None

    @overload
    def text(self, name: str, required: Literal[True]) -> str: ...
    @overload
    def text(self, name: str, required: bool = False) -> str | None: ...

    def text(self, name: str, required: bool = False) -> str | None:
        a = self.array(name, required)
        if a is None:
            return None
        if a.dtype.kind != "U" or a.shape != ():
            raise RecordingError(f"{name!r} must be a single unicode string, got {a.dtype} {a.shape}")
        return str(a.item())

    def texts(self, name: str) -> tuple[str, ...] | None:
        a = self.array(name)
        if a is None:
            return None
        if a.dtype.kind != "U" or a.ndim != 1:
            raise RecordingError(f"{name!r} must be a 1-D array of unicode strings, got {a.dtype} {a.shape}")
        return tuple(str(s) for s in a)

    def integer(self, name: str) -> int:
        a = self.array(name, required=True)
        if a.dtype.kind not in "iu" or a.shape != ():
            raise RecordingError(f"{name!r} must be a single integer, got {a.dtype} {a.shape}")
        return int(a)

    def bytes(self, name: str, shape: tuple[int | None, ...]) -> np.ndarray:
        a = self.array(name, required=True)
        wanted = " x ".join("N" if s is None else str(s) for s in shape)
        if a.dtype != np.uint8 or a.ndim != len(shape) or any(s is not None and s != g
                                                               for s, g in zip(shape, a.shape, strict=True)):
            raise RecordingError(f"{name!r} must be uint8 of shape ({wanted}), got {a.dtype} {a.shape}")
        return a


def read_message(payload: bytes, decode):
    """A stored message, decoded: the version-1 layout is the only one a recording holds (its CRC is checked;
    there is no tag)."""
    message = decode(payload, UNVERIFIED)
    if message.version != VERSION_1:
        raise ProtocolError("version", f"a recording holds version-1 layout messages, this one is version "
                                       f"{message.version}")
    return message


def unsealed_eeprom(payload: bytes) -> bytes:
    """An EEPROM message received from a gate (version 1, or version 2 with its tag unchecked) in the
    version-1 layout a recording stores: the same boot id and words, no tag. ProtocolError if it does not
    decode."""
    m = decode_eeprom(payload, UNVERIFIED)
    return payload if m.version == VERSION_1 else encode_eeprom(m.words, m.boot_id, key=None)


def unsealed_frame(payload: bytes) -> bytes:
    """A frame message as :func:`unsealed_eeprom` stores it: the same header fields and words, no tag."""
    m = decode_frame(payload, UNVERIFIED)
    if m.version == VERSION_1:
        return payload
    return encode_frame(m.words, m.boot_id, m.sequence, m.board_ms, m.flags, key=None)


def _times(values, n: int, name: str, of: str) -> np.ndarray:
    times = np.asarray(values)
    if times.dtype.kind not in "fiu" or times.shape != (n,):
        raise RecordingError(f"{name} must be {n} numbers (one per {of[:-1] if of.endswith('s') else of}), "
                             f"got {times.dtype} {times.shape}")
    times = times.astype(np.float64)
    if not np.all(np.isfinite(times)):
        raise RecordingError(f"{name} must be finite")
    return times


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RecordingError(f"{what} is not JSON ({exc})") from None


def synthesize(eeprom_words, frames_words, times: Sequence[float], truths: Sequence[Any] | None = None, *,
               gate_id: str = "sim-1", boot_id: int | None = None, flags: Sequence[int] | None = None,
               created: datetime | None = None, meta: dict[str, Any] | None = None) -> Recording:
    """A synthetic recording: sensor words encoded as a gate would publish them.

    ``eeprom_words`` has 832 words; ``frames_words`` is N x 834 words, one
    subpage per row; ``times`` the N times in seconds (non-decreasing; stored
    relative to the first). Frame ``i`` gets sequence ``i + 1`` and the board
    time ``round(time * 1000)`` modulo 2^30, as a gate that booted at the first
    frame would send. ``truths`` is one JSON-serialisable value per frame.
    ``boot_id`` defaults to the CRC-32 of the gate id, so the same inputs
    always give the same recording; give ``created`` too for identical files.
    """
    if not valid_gate_id(gate_id):
        raise RecordingError(f"invalid gate id {gate_id!r}: use lowercase letters, digits and hyphens")
    if boot_id is None:
        boot_id = zlib.crc32(gate_id.encode())
    if not 0 <= boot_id <= 0xFFFFFFFF:
        raise RecordingError(f"boot id {boot_id} does not fit 32 bits")
    frames_words = np.asarray(frames_words)
    if frames_words.ndim != 2:
        raise RecordingError(f"frames_words must be N x {FRAME_WORDS} words, got shape {frames_words.shape}")
    n = len(frames_words)
    t = np.asarray(times, dtype=np.float64)
    if t.shape != (n,):
        raise RecordingError(f"{t.size} times for {n} frames")
    if n and (not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0)):
        raise RecordingError("times must be finite and non-decreasing")
    if n >= BOARD_MS_WRAP:
        raise RecordingError("too many frames for one boot")
    rel = t - t[0] if n else t
    flag_values = [0] * n if flags is None else [int(f) for f in flags]
    if len(flag_values) != n:
        raise RecordingError(f"{len(flag_values)} flags for {n} frames")
    try:
        eeprom = encode_eeprom(np.asarray(eeprom_words), boot_id, key=None)
        payloads = [encode_frame(frames_words[i], boot_id, i + 1,
                                 int(round(rel[i] * 1000)) % BOARD_MS_WRAP, flag_values[i], key=None)
                    for i in range(n)]
    except (ValueError, OverflowError) as exc:
        raise RecordingError(f"cannot encode: {exc}") from None
    frames = (np.frombuffer(b"".join(payloads), dtype=np.uint8).reshape(n, FRAME_BYTES) if n
              else np.zeros((0, FRAME_BYTES), dtype=np.uint8))
    truth = None
    if truths is not None:
        truths = list(truths)
        if len(truths) != n:
            raise RecordingError(f"{len(truths)} ground-truth entries for {n} frames")
        try:
            truth = tuple(json.dumps(x, sort_keys=True, separators=(",", ":"), allow_nan=False) for x in truths)
        except (TypeError, ValueError) as exc:
            raise RecordingError(f"ground truth is not JSON-serialisable: {exc}") from None
    recording = Recording(gate_id=gate_id, source="synthetic", eeprom=eeprom, frame_payloads=frames, frame_times=rel,
                          created=created or datetime.now(timezone.utc), truth=truth, meta=dict(meta or {}))
    recording.validate()
    return recording
