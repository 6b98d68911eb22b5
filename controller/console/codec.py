"""Thermal images for the browser: compact live frames and exact snapshots.

Live frame (one binary WebSocket message per frame):

    uint16 LE  n            length of the header
    n bytes    header       UTF-8 JSON: gate, state, sequence, time, face_box,
                            distance_m, reference_ok, ambient_c, lo, hi, sent
    768 bytes  pixels       row-major 24 x 32, uint8: 0..254 spans lo..hi degC
                            linearly, 255 is a pixel without a reading

When the event carries the pipeline's ``fresh`` mask (the pixels the latest
subpage measured), the image is first merged (deinterlace.py): the pixels a
subpage older are held to their fresh neighbours, so a moving person shows
whole, not as a chess-board of dots.

About 0.9 kB a frame, so 24 gates at 8 fps are about 170 kB/s. The
quantisation step is (hi - lo) / 254, under 0.1 degC for a normal scene,
which is finer than the colour map shows.

Snapshot (JSON, for the alarm and history views): the deciding frame exactly as
stored, int16 centi-degC little-endian in base64, -32768 for no reading.
"""

from __future__ import annotations

import base64
import json
import math
import struct
import time

import numpy as np

from ..sensor.frame import SHAPE
from ..service.events import FrameEvent
from ..store.snapshot import decode_snapshot
from .deinterlace import merge_stale

NO_READING = 255


def _num(v, digits: int = 2):
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return round(f, digits) if math.isfinite(f) else None


def encode_frame(event: FrameEvent) -> bytes:
    """A live ``frame`` event of the LiveHub as one binary message."""
    image = np.asarray(event.image, dtype=np.float32).reshape(SHAPE)
    fresh = event.fresh
    if fresh is not None:  # half the pixels are a subpage older: no chess-board of a moving person
        image = merge_stale(image, np.asarray(fresh, dtype=np.bool_).reshape(SHAPE))
    finite = np.isfinite(image)
    if finite.any():
        lo = float(image[finite].min())
        hi = float(image[finite].max())
    else:
        lo, hi = 0.0, 1.0
    span = max(hi - lo, 1e-3)
    q = np.clip(np.rint((np.where(finite, image, lo) - lo) * (254.0 / span)), 0, 254).astype(np.uint8)
    q[~finite] = NO_READING
    box = event.face_box
    header = {
        "gate": event.gate, "state": event.state, "sequence": event.sequence,
        "time": _num(event.time, 3), "face_box": None if box is None else [int(v) for v in box],
        "distance_m": _num(event.distance_m), "reference_ok": event.reference_ok,
        "ambient_c": _num(event.ambient_c), "lo": round(lo, 3), "hi": round(lo + span, 3),
        "sent": round(time.time(), 4),
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<H", len(head)) + head + q.tobytes()


def decode_frame(message: bytes) -> tuple[dict, np.ndarray]:
    """The inverse of encode_frame (for tests): the header and the image in degC, NaN without reading."""
    (n,) = struct.unpack_from("<H", message)
    header = json.loads(message[2:2 + n])
    q = np.frombuffer(message[2 + n:], dtype=np.uint8).reshape(SHAPE)
    image = header["lo"] + q.astype(np.float64) * (header["hi"] - header["lo"]) / 254.0
    image[q == NO_READING] = np.nan
    return header, image


def snapshot_json(snapshot: bytes | None) -> dict | None:
    """A stored snapshot for the browser; None if there is none or it cannot be read."""
    if snapshot is None:
        return None
    try:
        image = decode_snapshot(snapshot)
    except ValueError:
        return None
    nan = np.isnan(image)
    centi = np.round(np.where(nan, 0.0, image) * 100.0).astype("<i2")
    centi[nan] = -32768
    finite = image[~nan]
    return {"rows": 24, "cols": 32, "data": base64.b64encode(centi.tobytes()).decode("ascii"),
            "min_c": _num(finite.min()) if finite.size else None,
            "max_c": _num(finite.max()) if finite.size else None}
