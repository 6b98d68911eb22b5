"""The sample recordings in sim/recordings/: valid, with ground truth that
round-trips through the sensor maths, and exactly what the generator makes."""

from __future__ import annotations

import numpy as np
import pytest

from controller.recording import Recording
from controller.sensor import Calibration
from sim.scenarios import scenario
from sim.synth import SAMPLE_SET, SAMPLES, scenario_recording


def test_samples_are_small():
    total = sum(p.stat().st_size for p in SAMPLES.glob("*.npz"))
    assert 0 < total < 1_000_000


@pytest.mark.parametrize("stem, name, seconds", SAMPLE_SET)
def test_sample_decodes_to_its_ground_truth(stem, name, seconds):
    rec = Recording.load(SAMPLES / f"{stem}.npz")
    assert rec.source == "synthetic" and rec.meta["scenario"] == name
    cal = Calibration.from_eeprom(rec.eeprom_message().words)
    sc = scenario(name, rec.meta["seed"], variant=rec.meta["variant"], refresh_hz=rec.meta["refresh_hz"])
    frames = list(rec.frames())
    assert len(frames) == int(seconds * 8)
    for item in frames:
        image = cal.subpage_to(item.message.words)
        expected = sc.frame_at(item.truth["t"]).image
        measured = ~np.isnan(image)
        garbage = np.zeros(768, dtype=bool)
        garbage[item.truth["garbage_pixels"]] = True
        keep = measured & ~garbage.reshape(24, 32)
        assert np.abs(image[keep] - expected[keep]).max() < 0.25  # one ADC count at 18 bits


@pytest.mark.parametrize("stem, name, seconds", SAMPLE_SET[:1])
def test_generator_reproduces_the_sample(stem, name, seconds, tmp_path):
    again = scenario_recording(name, seconds)
    again.save(tmp_path / "again.npz")
    assert (tmp_path / "again.npz").read_bytes() == (SAMPLES / f"{stem}.npz").read_bytes(), \
        "regenerate the samples with: python -m sim.synth"
