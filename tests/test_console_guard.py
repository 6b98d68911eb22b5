"""What a guard sees, below the browser: the history's snapshots and the live image of a moving person."""

from __future__ import annotations

import dataclasses
import time

import httpx
import numpy as np
import pytest

from controller.app import build_controller
from controller.console import codec
from controller.console.deinterlace import merge_stale, merge_stale_reference
from controller.sensor.reference import subpage_pattern
from controller.service.config import load_config
from controller.service.events import FrameEvent
from controller.store import Screening, encode_snapshot
from tests.controller_harness import write_config

PASSWORD = "guard-history-9"


def _screening(store, decision: str, snapshot: bool, t: float) -> int:
    image = np.full((24, 32), 22.0, dtype=np.float32)
    image[6:14, 12:20] = 35.4
    return store.record_screening(Screening(
        uid=f"h:{decision}:{t}", gate="sim-1", time=t, decision=decision, reason="", track=1,
        estimate_c=36.6 if decision == "PASS" else 38.5, face_c=35.4, distance_m=0.5, reduced_accuracy=False,
        boot=1, sequence=int(t) % 100000, snapshot=encode_snapshot(image) if snapshot else None))


def test_a_stored_snapshot_is_reachable_from_the_history(tmp_path, mqtt_broker):
    service = build_controller(load_config(write_config(tmp_path, mqtt_broker, ["sim-1"]))).start()
    try:
        store = service.store
        store.add_user("gus", "guard", PASSWORD)
        now = time.time()
        with_image = _screening(store, "FEVER", True, now - 30)
        without = _screening(store, "PASS", False, now - 20)
        purged = _screening(store, "PASS", True, now - 10)
        store.purge_snapshots(before=now - 5)  # retention: older images go, the rows stay
        assert store.screening(purged).snapshot is None and store.screening(with_image).snapshot is None
        kept = _screening(store, "FEVER", True, now)
        with httpx.Client(base_url=f"http://127.0.0.1:{service.http.port}", timeout=10) as c:
            assert c.post("/login", data={"username": "gus", "password": PASSWORD}).status_code == 303
            rows = c.get("/api/screenings").json()["screenings"]
            flags = {r["id"]: r["has_snapshot"] for r in rows}
            assert flags == {kept: True, with_image: False, without: False, purged: False}
            # The row that says it has one leads to it.
            snap = c.get(f"/api/screenings/{kept}").json()["snapshot"]
            assert snap["max_c"] == 35.4 and snap["min_c"] == 22.0
    finally:
        service.stop()


def test_with_snapshot_on_an_empty_list(tmp_path, mqtt_broker):
    service = build_controller(load_config(write_config(tmp_path, mqtt_broker, ["sim-1"])))
    try:
        assert service.store.with_snapshot([]) == set()
    finally:
        service.store.close()


# ---------------------------------------------------------------- the live image of a moving person

def _scene(x0: int) -> np.ndarray:
    """A room at 22 degC with a warm head (34-35.5 degC, a soft edge) whose left side is at column x0."""
    img = np.full((24, 32), 22.0, dtype=np.float32)
    img[4:16, x0:x0 + 8] = 34.0
    img[6:14, x0 + 1:x0 + 7] = 35.5
    return img


def _interlaced(old: np.ndarray, new: np.ndarray, chess: bool, subpage: int) -> tuple[np.ndarray, np.ndarray]:
    """The assembler's image after subpage ``subpage`` measured ``new`` over ``old``: (image, fresh)."""
    fresh = subpage_pattern(chess).reshape(24, 32) == subpage
    return np.where(fresh, new, old).astype(np.float32), fresh


def _board(img: np.ndarray) -> float:
    """The chess-board component's size: the mean |pixel - mean of its 4 neighbours| over the inner image."""
    inner = img[1:-1, 1:-1]
    around = (img[:-2, 1:-1] + img[2:, 1:-1] + img[1:-1, :-2] + img[1:-1, 2:]) / 4
    return float(np.mean(np.abs(inner - around)))


@pytest.mark.parametrize("chess", [True, False])
def test_a_moving_person_shows_whole_not_as_a_board(chess):
    old, new = _scene(8), _scene(13)  # 5 pixels in one subpage: someone walking past
    image, fresh = _interlaced(old, new, chess, subpage=1)
    merged = merge_stale(image, fresh)
    # The assembled image is full of dots; the merged one is as smooth as the scene itself.
    assert _board(image) > 3 * _board(new)
    assert _board(merged) < 1.1 * _board(new)
    # It shows the person where they are now: within 0.1 degC of the new scene on average.
    assert float(np.mean(np.abs(merged - new))) < 0.1
    assert float(np.mean(np.abs(image - new))) > 1.0
    assert np.array_equal(merged[fresh], image[fresh])  # what the sensor just measured is never changed


def test_a_still_scene_is_shown_as_measured():
    still = _scene(10) + np.linspace(0, 0.6, 32, dtype=np.float32)[None, :]
    image, fresh = _interlaced(still, still, True, subpage=0)
    merged = merge_stale(image, fresh)
    # A stale pixel that lies among its fresh neighbours is kept as measured; at a corner of the head
    # the median may take a neighbour's value, one step (0.02 degC) of the room's gradient away.
    assert float(np.mean(np.isclose(merged, still, atol=1e-6))) > 0.99
    assert float(np.max(np.abs(merged - still))) < 0.05


def test_the_kernel_and_its_numpy_reference_agree():
    rng = np.random.default_rng(5)
    for k in range(200):
        image = rng.normal(28, 5, (24, 32)).astype(np.float32)
        image[rng.random((24, 32)) < 0.05] = np.nan
        fresh = subpage_pattern(bool(k % 2)).reshape(24, 32) == (k // 2) % 2
        if k % 7 == 0:
            fresh = rng.random((24, 32)) < 0.5  # any mask, not only the sensor's two patterns
        np.testing.assert_allclose(merge_stale(image, fresh), merge_stale_reference(image, fresh), rtol=0,
                                   atol=1e-5)


def test_merge_stale_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        merge_stale(np.zeros((24, 32)), np.zeros((32, 24), dtype=bool))


def test_the_live_frame_sent_to_the_console_is_merged():
    old, new = _scene(8), _scene(13)
    image, fresh = _interlaced(old, new, True, subpage=0)
    event = FrameEvent(gate="sim-1", image=image, state="measuring", sequence=1, time=1.0)
    _, raw = codec.decode_frame(codec.encode_frame(event))
    _, merged = codec.decode_frame(codec.encode_frame(dataclasses.replace(event, fresh=fresh)))
    assert _board(raw) > 3 * _board(new)
    assert _board(merged) < 1.1 * _board(new) + 0.05  # + the 8-bit quantisation


# ---------------------------------------------------------------- display names of simulated gates

def test_a_simulated_gate_takes_its_display_name_from_the_config(tmp_path, mqtt_broker):
    from controller.service.config import ConfigError
    from controller.service.registry import load_gates

    named = load_config(write_config(tmp_path, mqtt_broker, ["sim-1", "sim-2"],
                                     extra='[gates.sim-1]\nname = "东门 1号"\n'))
    gates = load_gates(named)
    assert gates["sim-1"].name == "东门 1号" and gates["sim-2"].name == "simulated sim-2"
    for extra, message in (('[gates.north-1]\nname = "北门"\n', "only a simulated gate is named here"),
                           ('[gates.sim-1]\nname = ""\n', "printable text of 1-64 characters"),
                           ('[gates.sim-1]\nname = "a\\u0007b"\n', "printable text of 1-64 characters"),
                           ('[gates.sim-1]\nname = 5\n', "printable text of 1-64 characters")):
        with pytest.raises(ConfigError, match=message):
            write_config(tmp_path, mqtt_broker, ["sim-1"], extra=extra)
