"""The compact thermal snapshot kept with each screening: the deciding frame.

Format, version 1 (about 1.1 kB for a typical 24x32 frame, against 6 kB of
float64 or 1.5 kB of raw int16):

- byte 0: the version, 1;
- the rest: zlib of the 768 pixels as little-endian int16 centi-degC in
  row-major order, byte-shuffled (all low bytes, then all high bytes, which
  compresses better than interleaved).

A NaN pixel (no reading) is stored as -32768. Readings are rounded to 0.01
degC and clipped to +-327.67 degC (far outside the MLX90640's -40..300 degC;
an infinite reading is clipped too), so a glitching pixel never makes the
snapshot fail.
"""

from __future__ import annotations

import zlib

import numpy as np

from controller.sensor.frame import PIXELS, SHAPE

VERSION = 1
NAN_CODE = -32768
LIMIT_C = 327.67


def encode_snapshot(image: np.ndarray) -> bytes:
    """The compact bytes of a (24, 32) image in degC (NaN allowed); ValueError on a wrong shape."""
    a = np.asarray(image)
    if a.shape != SHAPE:
        raise ValueError(f"a snapshot is a {SHAPE[0]}x{SHAPE[1]} image, not shape {a.shape}")
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise ValueError(f"a snapshot holds real temperatures, not dtype {a.dtype}")
    a = a.astype(np.float64)
    nan = np.isnan(a)
    centi = np.round(np.clip(np.where(nan, 0.0, a), -LIMIT_C, LIMIT_C) * 100.0).astype("<i2")
    centi[nan] = NAN_CODE
    shuffled = centi.reshape(-1).view(np.uint8).reshape(-1, 2).T.tobytes()
    return bytes([VERSION]) + zlib.compress(shuffled, 9)


def decode_snapshot(data: bytes) -> np.ndarray:
    """The (24, 32) float64 image, degC with NaN where there was no reading; ValueError if malformed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"a snapshot is bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ValueError("empty snapshot")
    if data[0] != VERSION:
        raise ValueError(f"snapshot version {data[0]} is not one this code reads (only {VERSION})")
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data[1:], 2 * PIXELS + 1)  # never inflate more than one image
    except zlib.error as exc:
        raise ValueError(f"corrupt snapshot: {exc}") from None
    if len(raw) != 2 * PIXELS or not inflater.eof or inflater.unused_data:
        raise ValueError(f"corrupt snapshot: {len(raw)} bytes of pixels where {2 * PIXELS} were expected")
    centi = np.frombuffer(raw, np.uint8).reshape(2, -1).T.copy().view("<i2").reshape(SHAPE)
    out = centi.astype(np.float64) / 100.0
    out[centi == NAN_CODE] = np.nan
    return out
