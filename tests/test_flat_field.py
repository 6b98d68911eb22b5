"""The sensor's fixed pixel offsets measured on a flat field (controller/screening/flat_field.py,
`thermogate calibrate flat`).

The flat fields are simulated (sim/scenes/flat_field.py): the heated disc held against the window of a run's own
sensor, through that sensor's errors (its fixed pixel offsets, common offset, gain, drift and noise) and the
sensor's words, as the run's frames are; the runs are DEV's and HELD_OUT's, whose pixel offsets are drawn
0.10-0.25 and 0.05-0.40 degC. Nothing was chosen on these draws.
"""

from __future__ import annotations

import json

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

import numpy as np
import pytest

from controller.cli import main as thermogate
from controller.config_fields import ConfigError
from controller.geometry import Lens
from controller.screening.analysis import AnalysisConfig
from controller.screening.config import ScreeningConfig, from_table
from controller.screening.flat_field import FLAT_KEYS, MIN_FRAMES, FlatFieldError, measure_flat_field
from controller.screening.pipeline import GatePipeline
from controller.service.calibration import reference_images_recording
from sim.scenarios import FlatFieldCapture, scenario
from sim.scenes.world import DEV, HELD_OUT
from sim.synth import flat_field_recording, scenario_recording

PLAIN = ScreeningConfig(analysis=AnalysisConfig(variant=Lens.WIDE))


def _run(world, i: int, variant: str = Lens.WIDE):
    seed = world.seed(i)
    return seed, scenario("school_queue", seed, variant=variant, world=world)


def _truth(sc) -> np.ndarray:
    """The run's sensor's pixel offsets, less their median: what a flat field can tell."""
    offsets = sc.scene.errors.offsets
    return offsets - np.median(offsets)


@pytest.mark.parametrize("world, i", [(DEV, 0), (DEV, 1), (HELD_OUT, 0), (HELD_OUT, 2)])
def test_a_flat_field_measures_the_sensors_own_pixel_offsets(world, i):
    seed, sc = _run(world, i)
    images = reference_images_recording(flat_field_recording(sc, seed=seed, seconds=30.0), PLAIN).images
    flat = measure_flat_field(images)
    error = flat.offsets_c - _truth(sc)
    # what is left is the noise of each pixel's mean, which the measurement states (about 0.02-0.05 degC)
    assert 0.01 < flat.noise_left_c < 0.06, flat.noise_left_c
    assert error.std() < 1.25 * flat.noise_left_c and abs(error.mean()) < 0.01, (error.std(), flat.noise_left_c)
    assert flat.spread_c == pytest.approx(_truth(sc).std(), abs=0.02)
    assert flat.bad_pixels == 0 and flat.frames > 200
    assert flat.card_c == pytest.approx(sc.physics.reference.temp_c + sc.physics.sensor_offset_c, abs=1.0)
    # ten seconds leave about twice as much as thirty seconds do
    short = measure_flat_field(reference_images_recording(flat_field_recording(sc, seed=seed, seconds=10.0),
                                                          PLAIN).images)
    assert 1.4 < short.noise_left_c / flat.noise_left_c < 2.2


def _flat(n: int = 80, offsets: np.ndarray | None = None, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    fixed = rng.normal(0.0, 0.2, (24, 32)) if offsets is None else offsets
    return [36.0 + fixed + rng.normal(0.0, 0.3, (24, 32)) for _ in range(n)]


def test_what_is_not_a_flat_field_is_refused_with_what_to_do():
    with pytest.raises(FlatFieldError, match=f"at least {MIN_FRAMES} images"):
        measure_flat_field(_flat(MIN_FRAMES - 1))
    warming = [image + 0.02 * k for k, image in enumerate(_flat())]  # 1.6 degC over the capture
    with pytest.raises(FlatFieldError, match="moved by 1.5.*hold it still"):
        measure_flat_field(warming)
    covered = _flat()
    for image in covered:  # the card covers the left two-thirds; the room, 22 degC, shows past it
        image[:, 22:] = 22.0
    with pytest.raises(FlatFieldError, match="does not cover|not one surface|other than the surface"):
        measure_flat_field(covered)
    edge = _flat()
    for image in edge:  # a warm hand along the top rows
        image[:3, :] += 1.2
    with pytest.raises(FlatFieldError, match="varies by .* from one side to the other"):
        measure_flat_field(edge)
    spot = _flat()
    for image in spot:
        image[5, 7] += 6.0
    with pytest.raises(FlatFieldError, match=r"pixel \(row 5, column 7\) reads \+6"):
        measure_flat_field(spot)
    dead = _flat()
    for image in dead:
        image[:, :20] = np.nan
    with pytest.raises(FlatFieldError, match="most pixels are invalid"):
        measure_flat_field(dead)


def test_a_pixel_that_fails_is_read_from_its_other_images_or_given_none():
    fixed = np.random.default_rng(3).normal(0.0, 0.2, (24, 32))
    images = _flat(120, fixed)
    for k, image in enumerate(images):
        image[2, 3] = np.nan  # never valid: no offset
        if k % 3 == 0:
            image[10, 10] = np.nan  # valid two images in three: read from them
    flat = measure_flat_field(images)
    truth = fixed - np.median(fixed)
    assert flat.bad_pixels == 1 and flat.offsets_c[2, 3] == 0.0
    assert flat.offsets_c[10, 10] == pytest.approx(truth[10, 10], abs=0.12)
    assert np.isfinite(flat.offsets_c).all()


def test_the_offsets_go_into_the_screening_settings_and_bad_ones_are_refused():
    rows = [[round(0.01 * (r - c), 3) for c in range(32)] for r in range(24)]
    config = from_table({"variant": "110", "pixel_offsets_c": rows})
    assert np.asarray(config.analysis.pixel_offsets_c).shape == (24, 32)
    assert config.analysis.pixel_offsets_c[3][1] == pytest.approx(0.02)
    assert from_table({}).analysis.pixel_offsets_c is None
    for bad in (rows[:23], [row[:31] for row in rows], [[4.0] * 32] * 24, "0.1", [[float("nan")] * 32] * 24):
        with pytest.raises(ConfigError, match="24 rows of 32 numbers within 3 degC") as info:
            from_table({"pixel_offsets_c": bad})
        assert len(str(info.value)) < 200  # the message does not repeat the 768 numbers
    with pytest.raises(ValueError, match="pixel_offsets_c"):
        AnalysisConfig(pixel_offsets_c=((0.0,) * 32,) * 23)


def test_the_pipeline_takes_the_offsets_off_every_image_before_anything_reads_it():
    seed, sc = _run(DEV, 3)
    rec = scenario_recording("school_queue", 12.0, seed=seed, variant=Lens.WIDE, world=DEV)
    offsets = np.random.default_rng(5).normal(0.0, 0.3, (24, 32)).round(3)
    corrected = ScreeningConfig(analysis=AnalysisConfig(variant=Lens.WIDE, pixel_offsets_c=offsets.tolist()))
    words = rec.eeprom_message().words
    plain, flat = GatePipeline("g", words, PLAIN), GatePipeline("g", words, corrected)
    compared = 0
    for item in rec.frames():
        plain.push(item.message.words, item.time, item.message.sequence)
        flat.push(item.message.words, item.time, item.message.sequence)
        if plain.image is not None:
            np.testing.assert_allclose(flat.image, plain.image - offsets.astype(np.float32), atol=1e-5)
            compared += 1
    assert compared > 80
    assert flat.last_analysis is not None and flat.last_analysis != plain.last_analysis


def test_calibrate_flat_from_a_recording_stores_the_offsets_the_gate_then_takes_off(tmp_path, capsys):
    seed, sc = _run(HELD_OUT, 0)
    path = tmp_path / "flat.npz"
    flat_field_recording(sc, seed=seed, gate_id="g1", seconds=30.0).save(path)
    config = tmp_path / "controller.toml"
    config.write_text("[gates.g1.screening]\nlens_core_px = 0.5\n\n"
                      "[gates.g1.screening.reference]\nbox = [3, 3, 7, 7]\n")
    argv = ["calibrate", "flat", "g1", "--recording", str(path), "--config", str(config)]
    assert thermogate(argv) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["measured"] and result["stored"] == str(config) and result["bad_pixels"] == 0
    assert result["spread_c"] == pytest.approx(_truth(sc).std(), abs=0.02)
    assert "stored in" in err and "calibrate lens g1" in err and "calibrate reference g1" in err
    written = tomllib.loads(config.read_text(encoding="utf-8"))["gates"]["g1"]["screening"]
    assert written["lens_core_px"] == 0.5 and written["reference"] == {"box": [3, 3, 7, 7]}  # the rest kept
    measured = np.asarray(written["pixel_offsets_c"])
    assert measured.shape == (24, 32) and (measured - _truth(sc)).std() < 0.05
    from controller.service.config import load_config

    taken = load_config(str(config), secrets=False).screening_for("g1", Lens.WIDE).analysis.pixel_offsets_c
    np.testing.assert_allclose(np.asarray(taken), measured)
    # measured again (the offsets configured are not taken off the capture first): the same, replacing them
    assert thermogate(argv) == 0
    capsys.readouterr()
    again = tomllib.loads(config.read_text(encoding="utf-8"))["gates"]["g1"]["screening"]
    assert again["pixel_offsets_c"] == written["pixel_offsets_c"]
    assert config.read_text(encoding="utf-8").count("pixel_offsets_c") == 1 and set(FLAT_KEYS) <= set(again)
    # printed, not stored: the lines paste into controller.toml as they are
    assert thermogate(argv + ["--no-store"]) == 0
    pasted = tomllib.loads(capsys.readouterr()[1].split("put in controller.toml:\n", 1)[1].split("\n;")[0])
    assert pasted["gates"]["g1"]["screening"]["pixel_offsets_c"] == written["pixel_offsets_c"]


def test_calibrate_flat_refuses_a_recording_that_is_no_flat_field(tmp_path, capsys):
    seed, _sc = _run(DEV, 2)
    path = tmp_path / "queue.npz"
    scenario_recording("school_queue", 8.0, seed=seed, variant=Lens.WIDE, world=DEV).save(path)
    config = tmp_path / "controller.toml"
    config.write_text("[gates.g1.screening]\nlens_core_px = 0.5\n")
    assert thermogate(["calibrate", "flat", "g1", "--recording", str(path), "--config", str(config)]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["measured"] is False and "thermogate calibrate flat:" in err and "capture again" in err
    assert "pixel_offsets_c" not in config.read_text(encoding="utf-8")  # nothing stored
    assert thermogate(["calibrate", "flat", "g1", "--recording", str(path), "--recording", str(path)]) == 2
    assert "one recording" in capsys.readouterr().err


def test_calibrate_flat_live_prompts_the_installer_and_measures_the_running_gate(tmp_path, mqtt_broker, monkeypatch,
                                                                                 capsys):
    """Live over MQTT: a virtual gate (the real firmware code) on a private mosquitto with the disc held against
    its window; the command asks the installer to hold it there, records, and stores the offsets. Offsets
    configured before are not taken off the capture."""
    from tests.controller_harness import run_live_command, write_config

    seed, sc = _run(DEV, 1, Lens.NARROW)
    capture = FlatFieldCapture(sc)
    stale = "[" + ", ".join("[" + ", ".join([f"{0.5 * (-1) ** (r + c):g}" for c in range(32)]) + "]"
                            for r in range(24)) + "]"  # a chess-board of +-0.5: would show if taken off
    path = write_config(tmp_path, mqtt_broker, ["sim-1"], extra=f"[gates.sim-1.screening]\npixel_offsets_c = {stale}\n")
    rc, prompts = run_live_command(["calibrate", "flat", "sim-1", "--config", str(path), "--seconds", "6"], capture,
                                   mqtt_broker, monkeypatch, capsys)
    assert rc == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert len(prompts) == 1 and "flat against sim-1's window" in prompts[0] and "take it away" in err
    assert result["measured"] and result["source"].startswith("live from") and result["frames"] >= 40
    written = np.asarray(tomllib.loads(path.read_text(encoding="utf-8"))["gates"]["sim-1"]["screening"]
                         ["pixel_offsets_c"])
    error = written - _truth(sc)
    assert abs(error.mean()) < 0.02 and error.std() < 1.3 * result["noise_left_c"] + 0.01, (error.std(), result)
