"""The reference's stability test against the way a full frame is made: the latest two subpages merged, so each
pixel is measured in every other frame. A steady disc read through noisy pixels must not look unstable."""

from __future__ import annotations

import numpy as np
import pytest

from controller.screening.analysis import AnalysisConfig, Analyzer
from controller.screening.analysis_kernels import SUBPAGES


def merged_frames(n: int, noise_c: float, seed: int = 0, drift_c_per_frame: float = 0.0) -> list[np.ndarray]:
    """A 22 degC room with a steady 35 degC disc covering one pixel fully and its neighbours in part, as the
    pipeline assembles it: in each frame only one subpage's pixels (a chess pattern) take a new noisy reading."""
    rng = np.random.default_rng(seed)
    scene = np.full((24, 32), 22.0)
    scene[4:7, 4:7] = 22.0 + 0.4 * 13.0
    scene[5, 5] = 35.0
    chess = (np.indices((24, 32)).sum(axis=0) % SUBPAGES)
    image = scene + rng.normal(0.0, noise_c, scene.shape)
    out = []
    for i in range(n):
        fresh = chess == i % SUBPAGES
        reading = scene + i * drift_c_per_frame + rng.normal(0.0, noise_c, scene.shape)
        image = np.where(fresh, reading, image)
        out.append(image.copy())
    return out


def excess(frames: list[np.ndarray]) -> np.ndarray:
    config = AnalysisConfig(variant="55", reference_box=(3, 3, 8, 8), reference_c=35.0, reference_apparent_c=35.0,
                            reference_pixels=1)
    analyzer = Analyzer(config)
    values = [analyzer.analyze(f).reference_excess_c for f in frames]
    return np.array([v for v in values if np.isfinite(v)])


def test_a_steady_disc_read_from_one_noisy_pixel_is_stable():
    """Noise of 0.3 degC per reading on the one pixel read: the blocks' spread is what that noise gives with a
    new reading every other frame, so the excess stays near zero and well under the 0.15 degC limit (counting
    every frame as a new reading left an excess of about half the noise, 0.15, and a steady disc unstable)."""
    steady = excess(merged_frames(400, 0.3))
    assert len(steady) > 300
    assert float(np.median(steady)) < 0.05 and float(np.mean(steady >= 0.15)) < 0.1


def test_a_disc_that_is_warming_is_still_unstable():
    warming = excess(merged_frames(400, 0.05, drift_c_per_frame=0.02))  # 0.16 degC/s
    assert float(np.median(warming)) >= 0.15


def statuses(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each settled frame's reference status ("held": unsteady, within reference_hold_frames of its last steady
    window), and the variation its window's noise allows."""
    config = AnalysisConfig(variant="55", reference_box=(3, 3, 8, 8), reference_c=35.0, reference_apparent_c=35.0,
                            reference_pixels=1)
    analyzer = Analyzer(config)
    out = [analyzer.analyze(f) for f in frames]
    settled = [a for a in out if np.isfinite(a.reference_excess_c)]
    return np.array([a.reference_status for a in settled]), np.array([a.reference_allowed_c for a in settled])


@pytest.mark.parametrize("noise_c", [0.05, 0.3, 0.45, 0.62])
def test_a_steady_disc_is_steady_at_any_noise(noise_c):
    """The limits grow with the noise the window measures: at 0.45 degC a reading (a 0.16 degC NETD sensor at 8 Hz)
    the fixed 0.15 limit called a fifth of a steady disc's windows unsteady (held, most of them), and at 0.62 a
    quarter."""
    status, allowed = statuses(merged_frames(800, noise_c, seed=1))
    assert len(status) > 700
    assert float(np.mean(status == "unstable")) < 0.01  # the reference not ok: decisions blocked
    assert float(np.mean(np.isin(status, ("unstable", "held")))) < 0.1  # unsteady at all, held or not
    assert 0.15 <= float(np.median(allowed)) < 0.15 + 1.0 * noise_c  # the configured limit, and more with noise


def test_a_warming_disc_on_a_quiet_sensor_is_unsteady():
    status, allowed = statuses(merged_frames(400, 0.05, drift_c_per_frame=0.02))  # 0.16 degC/s
    assert float(np.mean(np.isin(status, ("unstable", "held", "drift")))) > 0.95  # drift: once it has warmed far
    assert float(np.median(allowed)) < 0.17  # about the configured 0.15: little noise to allow for
