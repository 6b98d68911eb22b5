"""The alarm sound: a two-tone chime, made here as a WAV so nothing is fetched from elsewhere.

Two notes (880 Hz then 660 Hz, 0.22 s each, with short fades so they do not
click) twice, then 0.5 s of silence: 1.38 s that the page loops until the
alarm is acknowledged or muted.
"""

from __future__ import annotations

import io
import wave

import numpy as np

RATE = 16000


def _tone(freq: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.01)  # 10 ms in and out
    # A little of the third harmonic makes it cut through a noisy gatehouse.
    return (np.sin(2 * np.pi * freq * t) + 0.25 * np.sin(2 * np.pi * 3 * freq * t)) * fade / 1.25


def alarm_wav(rate: int = RATE) -> bytes:
    """The WAV bytes (16-bit mono PCM)."""
    gap = np.zeros(int(0.03 * rate))
    parts = []
    for _ in range(2):
        parts += [_tone(880.0, 0.22, rate), gap, _tone(660.0, 0.22, rate), gap]
    parts.append(np.zeros(int(0.5 * rate)))
    wave_ = np.concatenate(parts)
    samples = (wave_ / np.abs(wave_).max() * 0.9 * 32767).astype("<i2")  # peak at 90 % of full scale
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return out.getvalue()
