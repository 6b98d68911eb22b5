"""The sensor's noise as the controller measures it on the images (controller/sensor/noise.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from controller.sensor.noise import EVERY, SensorNoise, describe_noise, netd_1hz_c

ROWS, COLS = 24, 32
CHESS = (np.add.outer(np.arange(ROWS), np.arange(COLS)) % 2).astype(bool)


def _images(sd: float, n: int, seed: int = 0, scene=None, drift_c: float = 0.0):
    """n assembled images of ``scene(k)`` (default a still room with a warm patch), each subpage reading its half
    of the chess pattern again with noise of ``sd``; yields (image, fresh)."""
    rng = np.random.default_rng(seed)
    room = 21.0 + np.linspace(0.0, 2.0, COLS)[None, :] + np.zeros((ROWS, 1))
    room[8:16, 12:18] = 33.0
    image = room + rng.normal(0.0, sd, (ROWS, COLS))
    for k in range(n):
        fresh = CHESS if k % 2 else ~CHESS
        truth = (scene(k) if scene is not None else room) + drift_c * k
        image = image.copy()
        image[fresh] = truth[fresh] + rng.normal(0.0, sd, int(fresh.sum()))
        yield image.astype(np.float32), fresh


@pytest.mark.parametrize("sd", [0.1, 0.3, 0.7])
def test_the_noise_of_one_reading_is_measured_on_a_still_scene(sd):
    noise = SensorNoise()
    for image, fresh in _images(sd, 400, seed=int(sd * 10)):
        noise.update(image, fresh)
    assert noise.measurements == (400 - 1) // EVERY  # one pair of images in EVERY
    assert noise.noise_c == pytest.approx(sd, rel=0.08)


def test_a_person_walking_through_and_a_drifting_sensor_do_not_count_as_noise():
    """A warm face crossing the view a pixel a frame changes a few dozen pixels by degrees; the whole array
    drifting changes every pixel alike: neither is the pixels' noise."""
    def walking(k):
        scene = 21.0 + np.zeros((ROWS, COLS))
        c = k % (COLS - 6)
        scene[6:14, c:c + 6] = 34.0
        scene[14:24, c - 1 if c else 0:c + 7] = 26.0  # clothing
        return scene

    for scene, drift in ((walking, 0.0), (None, 0.02)):
        noise = SensorNoise()
        for image, fresh in _images(0.3, 400, seed=3, scene=scene, drift_c=drift):
            noise.update(image, fresh)
        assert noise.noise_c == pytest.approx(0.3, rel=0.10)


def test_only_images_with_nobody_in_view_are_compared():
    """Through a near lens someone at the mark fills most of the view and moves in it: those images (the
    analysis found something warm) are not compared, nor an empty one with the one before it that was not."""
    rng = np.random.default_rng(12)

    def crowded(k):
        scene = 21.0 + np.zeros((ROWS, COLS))
        scene[2:, 4:28] = 26.0 + rng.normal(0.0, 1.0, (ROWS - 2, 24))  # clothing moving in every frame
        return scene

    empty_room = 21.0 + np.zeros((ROWS, COLS))
    noise, naive = SensorNoise(), SensorNoise()
    for k, (image, fresh) in enumerate(_images(0.3, 600, seed=13,
                                               scene=lambda k: crowded(k) if (k // 40) % 2 else empty_room)):
        noise.update(image, fresh, empty=(k // 40) % 2 == 0)  # 40 frames empty, 40 not, ...
        naive.update(image, fresh)
    assert noise.noise_c == pytest.approx(0.3, rel=0.08)
    assert naive.noise_c > 1.5 * noise.noise_c  # what comparing them all would have said
    assert noise.measurements == (8 * 39) // EVERY  # 8 empty stretches of 39 pairs (their first has no pair)


def test_too_little_to_go_on_measures_nothing():
    """Not a single measurement's worth of images, or images whose pixels are nearly all unreadable: NaN, not a
    figure; unreadable pixels are left out of one that has enough."""
    few = SensorNoise()
    for image, fresh in _images(0.3, EVERY):  # EVERY - 1 pairs
        few.update(image, fresh)
    assert math.isnan(few.noise_c) and few.measurements == 0
    noise = SensorNoise()
    for image, fresh in _images(0.3, 200, seed=7):
        image[:, 2:] = np.nan
        noise.update(image, fresh)
    assert math.isnan(noise.noise_c) and noise.measurements == 0
    noise = SensorNoise()
    for image, fresh in _images(0.3, 400, seed=8):
        image[:4, :] = np.nan
        noise.update(image, fresh)
    assert noise.noise_c == pytest.approx(0.3, rel=0.08)


def test_the_datasheet_figure_is_the_noise_at_a_1_hz_refresh():
    """The MLX90640's noise grows as the square root of the refresh rate: 0.1 K at 1 Hz is 0.28 K at 8 Hz."""
    assert netd_1hz_c(0.1 * math.sqrt(8.0), 8.0) == pytest.approx(0.1)
    assert netd_1hz_c(0.2, 4.0) == pytest.approx(0.1)
    assert math.isnan(netd_1hz_c(math.nan, 8.0)) and math.isnan(netd_1hz_c(0.3, 0.0))
    assert describe_noise(0.3, 8.0) == "0.30 degC a reading at 8 Hz (0.11 at 1 Hz; the datasheet's typical 0.1)"
    assert describe_noise(0.3, 0.0) == "0.30 degC a reading"  # the rate not known


def test_a_gate_pipeline_measures_its_virtual_sensors_noise_at_each_refresh_rate():
    """Through the real chain (the virtual sensor's raw words, the EEPROM calibration, the assembler): the
    pipeline's figure is the virtual sensor's pixel noise (its median over the array), and the same sensor at
    twice the rate reads sqrt(2) times noisier, the same at 1 Hz."""
    from controller.screening.pipeline import GatePipeline
    from sim.scenarios import scenario
    from sim.synth import scenario_recording

    measured = {}
    for hz in (8.0, 16.0):
        rec = scenario_recording("normal_queue", 12.0, seed=2, refresh_hz=hz)
        pipeline = GatePipeline(rec.gate_id, rec.eeprom_message().words)
        assert math.isnan(pipeline.noise_c)
        for item in rec.frames():
            pipeline.push(item.message.words, item.time, item.message.sequence)
        measured[hz] = pipeline.noise_c
        truth = float(np.median(scenario("normal_queue", 2, refresh_hz=hz).scene.errors.noise_sd))
        assert measured[hz] == pytest.approx(truth, rel=0.15)
    assert measured[16.0] / measured[8.0] == pytest.approx(math.sqrt(2.0), rel=0.1)
    assert netd_1hz_c(measured[16.0], 16.0) == pytest.approx(netd_1hz_c(measured[8.0], 8.0), rel=0.1)


def test_readings_in_steps_of_their_resolution_are_measured_as_finely():
    """A sensor's readings come in steps (its ADC's resolution through the calibration): changes then take a few
    values, and their median snaps to one of them. The mean of several quantiles does not: it measures the noise
    the readings carry, steps included."""
    for step, sd in ((0.2, 0.25), (0.2, 0.4), (0.1, 0.15)):
        noise = SensorNoise()
        for image, fresh in _images(sd, 400, seed=11):
            noise.update(np.round(image / step) * step, fresh)
        assert noise.noise_c == pytest.approx(math.sqrt(sd * sd + step * step / 12.0), rel=0.08)
