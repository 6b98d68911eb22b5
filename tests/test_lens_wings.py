"""The lens's wings (controller/screening/lens_wings.py): a share of every point's energy spread far, taken out of
each image when a gate's lens was measured with them, so that faces and the reference disc are read through the
lens's core. The scenes' wings come from the simulator (sim/scenes/optics.py, ``blur``), which the product
never reads: it is told them in its config, as an installer copies a lens's measured point spread function."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from controller.config_fields import ConfigError
from controller.screening.analysis import AnalysisConfig, Analyzer
from controller.screening.config import from_table
from controller.screening.lens_wings import LensWings, add_wings, remove_wings_reference
from controller.screening.reference_source import learn_reference
from sim.scenarios import scenario
from sim.scenes.room import ReferenceSpec, Room

HZ = 8.0


def _scene_like(seed: int) -> np.ndarray:
    """A room at 20-24 degC with a face-sized patch at 33-36 and a few hot pixels."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(20.0, 24.0, (24, 32))
    r, c = rng.integers(4, 14), rng.integers(4, 24)
    image[r:r + 7, c:c + 5] = rng.uniform(33.0, 36.0, (7, 5))
    return image


@pytest.mark.parametrize("share, px", [(0.05, 1.5), (0.2, 3.0), (0.45, 6.0)])
def test_the_wings_come_out_exactly(share, px):
    """Taking the wings out undoes putting them in (both in radiance, as a lens mixes it), to a thousandth of a
    degree, and agrees with the plain iteration that the eigen-solution replaces."""
    wings = LensWings(share, px, (24, 32))
    for seed in range(5):
        core = _scene_like(seed)
        winged = add_wings(core, share, px)
        assert np.abs(winged - core).max() > 0.3  # the premise: the wings move the face's readings
        back = wings.remove(winged)
        assert np.abs(back - core).max() < 1e-3
        assert np.abs(back - remove_wings_reference(winged, share, px)).max() < 1e-3


def test_a_pixel_that_is_not_a_number_stays_one_and_spreads_nowhere():
    wings = LensWings(0.2, 3.0, (24, 32))
    core = _scene_like(1)
    winged = add_wings(core, 0.2, 3.0)
    winged[5, 7] = math.nan
    winged[0, 0] = math.inf
    back = wings.remove(winged)
    assert math.isnan(back[5, 7]) and math.isinf(back[0, 0])
    others = np.isfinite(back)
    assert others.sum() == 24 * 32 - 2
    assert np.abs(back - core)[others].max() < 0.2  # the two stand-ins cost the rest little


def test_the_wings_are_configured_and_checked():
    analysis = from_table({"lens_wing_share": 0.15, "lens_wing_px": 2.5}).analysis
    assert (analysis.lens_wing_share, analysis.lens_wing_px) == (0.15, 2.5)
    assert from_table({}).analysis.lens_wing_share == 0.0  # none unless measured
    for table in ({"lens_wing_share": 0.7}, {"lens_wing_px": 0.1}, {"lens_wing_share": "a lot"}):
        with pytest.raises(ConfigError):
            from_table(table)
    with pytest.raises(ValueError):
        AnalysisConfig(lens_wing_share=-0.1)
    with pytest.raises(ValueError):
        AnalysisConfig(lens_wing_share=0.2, lens_wing_px=math.nan)


def _winged_scene(share: float, px: float, seed: int = 0, spec: ReferenceSpec | bool = True):
    sc = scenario("normal_queue", seed, variant="110")
    sc.scene.physics = replace(sc.scene.physics, psf_wing_share=share, psf_wing_sigma_px=px)
    sc.scene.room = Room(sc.scene.projection, np.random.default_rng([seed, 7]), reference=spec)
    return sc


def _standing_topk(sc, analysis: AnalysisConfig) -> list[float]:
    """The face reading (``face_topk_c``) of every frame of the first 20 s where a face stands whole."""
    analyzer = Analyzer(analysis)
    out = []
    for i in range(int(20.0 * HZ)):
        frame = sc.frame_at(i / HZ)
        a = analyzer.analyze(frame.image)
        standing = any(p["phase"] == "standing" for p in frame.truth["people"])
        if standing and a.people == 1 and not a.touches_edge:
            out.append(a.face_topk_c)
    return out


def test_a_face_through_wings_reads_as_through_the_core_once_they_are_taken_out():
    """The same people through the same core, with and without 20 % of the energy in wings of 3 pixels: the face
    reads far lower through the wings, and as through the core alone once the analysis is told them."""
    core = _winged_scene(0.0, 3.0)
    winged = _winged_scene(0.2, 3.0)
    ref = core.scene.room.reference
    analysis = AnalysisConfig(variant="110", reference_box=ref.box_with_margin(1), reference_c=ref.temp_c)
    plain = np.array(_standing_topk(core, analysis))
    as_read = np.array(_standing_topk(winged, analysis))
    told = np.array(_standing_topk(winged, replace(analysis, lens_wing_share=0.2, lens_wing_px=3.0)))
    assert len(plain) >= 20 and len(as_read) >= 20 and len(told) >= 20
    assert np.median(as_read) < np.median(plain) - 0.8
    assert abs(np.median(told) - np.median(plain)) < 0.15


def test_the_disc_is_learned_through_the_core_once_the_wings_are_taken_out():
    """A 15 cm disc at 0.35 m through the 110 degree lens (7 pixels across): wings lower its reading, which its
    learned sensor offset takes for a sensor reading low; told the wings, it is learned as through the core."""
    spec = ReferenceSpec(0.15, 0.35)
    learned = {}
    for name, share, told in (("core", 0.0, 0.0), ("winged", 0.2, 0.0), ("told", 0.2, 0.2)):
        sc = _winged_scene(share, 3.0, spec=spec)
        ref = sc.scene.room.reference
        analysis = AnalysisConfig(variant="110", reference_box=ref.box_with_margin(1), reference_c=ref.temp_c,
                                  lens_wing_share=told, lens_wing_px=3.0)
        learned[name] = learn_reference([sc.frame_at(i / HZ).image for i in range(int(10 * HZ))], analysis)
    core, winged, told = learned["core"], learned["winged"], learned["told"]
    assert core.sensor_offset_c is not None and winged.sensor_offset_c is not None and told.sensor_offset_c is not None
    assert winged.sensor_offset_c < core.sensor_offset_c - 0.5
    assert told.sensor_offset_c == pytest.approx(core.sensor_offset_c, abs=0.15)
    assert told.blur_px == pytest.approx(core.blur_px, abs=0.1)


@pytest.mark.parametrize(("share", "px", "gain"), [(0.1, 2.0, 1.106), (0.2, 3.0, 1.244), (0.3, 1.5, 1.391)])
def test_the_noise_the_removal_adds_is_what_removing_noise_images_gives(share, px, gain):
    """``noise_gain``, worked out from the modes, against white noise taken through ``remove``: the fine detail the
    wings dimmed by 1 - share is restored, and the pixels' noise with it."""
    wings = LensWings(share, px, (24, 32))
    assert wings.noise_gain == pytest.approx(gain, abs=0.002)
    noise = 0.3 * np.random.default_rng(7).standard_normal((200, 24, 32))
    removed = np.array([wings.remove(30.0 + n) - 30.0 for n in noise])
    assert float(removed.std() / noise.std()) == pytest.approx(wings.noise_gain, rel=0.02)
