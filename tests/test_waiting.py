"""People who wait for the gate's result (sim/waiting.py): the scene and the gate's pipeline in a closed loop.

The pipeline is the controller's own, the frames the sensor words a virtual gate would send; a person given a
PASS, a FEVER or RETRY wait_indoors walks on REACT_S later, anyone else stands their planned time."""

from __future__ import annotations

import numpy as np
import pytest

from controller.protocol import result as D
from controller.screening.config import ScreeningConfig
from controller.screening.offline import analyze_recording, truth_for
from sim.scenarios import scenario
from sim.synth import scenario_recording
from sim.waiting import REACT_S, screen_waiting, sends_on

SECONDS = 22.0  # four people of normal_queue
SEED = 3


def _standing(rec) -> dict[int, list[float]]:
    """Each person's frames standing on the mark: id -> times."""
    out: dict[int, list[float]] = {}
    for item in rec.frames():
        for p in item.truth["people"]:
            if p["phase"] == "standing":
                out.setdefault(p["id"], []).append(item.time)
    return out


def _key(d: D.Decision) -> tuple:
    return d.time_s, d.decision, d.reason, d.track, d.estimate_c


@pytest.fixture(scope="module")
def waited():
    return screen_waiting("normal_queue", SECONDS, ScreeningConfig(), seed=SEED)


def test_the_loop_decides_what_its_recording_replays(waited):
    """The decisions made in the loop are the ones the offline analysis makes on the recording it leaves: the
    loop hands the pipeline exactly the frames it records."""
    rec, decisions = waited
    assert decisions and [_key(d) for d in decisions] == [_key(d) for d in analyze_recording(rec, ScreeningConfig())]
    assert rec.meta["waiting"] == REACT_S and rec.meta["scenario"] == "normal_queue"
    rec.validate()


def test_a_person_given_their_result_walks_on(waited):
    """Each person given a result that sends them on has left the mark REACT_S after it; planned, at least one
    of them would have stood on. Until the first of them goes, the frames are the planned recording's."""
    rec, decisions = waited
    planned = scenario_recording("normal_queue", SECONDS, seed=SEED)
    sent: dict[int, float] = {}
    for d, person in zip(decisions, truth_for(rec, decisions), strict=True):
        if person is not None and sends_on(d):
            sent.setdefault(person["id"], d.time_s)
    assert len(sent) >= 3
    stood, stood_planned = _standing(rec), _standing(planned)
    for pid, t in sent.items():
        assert max(stood[pid]) < t + REACT_S
        assert max(stood[pid]) <= max(stood_planned[pid])
    assert any(max(stood_planned[pid]) >= t + REACT_S for pid, t in sent.items())
    first = min(sent.values()) + REACT_S
    same = 0
    for a, b in zip(planned.frames(), rec.frames(), strict=True):
        if a.time >= first:
            break
        assert a.truth == b.truth and np.array_equal(a.message.words, b.message.words)
        same += 1
    assert same > 8


def test_a_person_told_nothing_that_sends_them_on_stands_their_time():
    """With no reference in view every screening is BLOCKED: nobody is sent on, and the recording is the planned
    one, frame for frame."""
    rec, decisions = screen_waiting("no_reference", 14.0, ScreeningConfig(), seed=0)
    assert decisions and all(d.decision == D.BLOCKED for d in decisions)
    planned = scenario_recording("no_reference", 14.0, seed=0)
    assert _standing(planned)
    for a, b in zip(planned.frames(), rec.frames(), strict=True):
        assert a.truth == b.truth and np.array_equal(a.message.words, b.message.words)


def test_what_sends_a_person_on():
    def d(decision: str, reason: str = "") -> D.Decision:
        return D.Decision("g", 0.0, decision, reason, 1, None)

    assert sends_on(d(D.PASS)) and sends_on(d(D.FEVER)) and sends_on(d(D.RETRY, D.WAIT_INDOORS))
    assert not any(sends_on(d(D.RETRY, r)) for r in D.RETRY_REASONS if r != D.WAIT_INDOORS)
    assert not any(sends_on(d(D.BLOCKED, r)) for r in D.BLOCKED_REASONS)
    with pytest.raises(ValueError, match="react_s"):
        screen_waiting("normal_queue", 1.0, ScreeningConfig(), react_s=-0.1)


def test_a_person_sent_on_walks_the_same_way_sooner():
    """Person.sent_on: the same walk, the stand cut at the time given (none before they arrive, never longer
    than planned); the scene keeps the first time a person is sent on."""
    sc = scenario("normal_queue", SEED)
    p = sc.scene.person(0, 1)
    cut = p.arrive_s + 0.4
    q = p.sent_on(cut)
    assert q.stand_s == pytest.approx(0.4) and q.leave_start_s == pytest.approx(cut) and q.exit_s < p.exit_s
    for t in np.arange(p.enter_s, cut, 0.05):
        assert q.pose(float(t)) == p.pose(float(t))
    assert q.pose(cut + 0.01).phase == "leaving" and p.pose(cut + 0.01).phase == "standing"
    assert p.sent_on(p.arrive_s - 1.0).stand_s == 0.0
    assert p.sent_on(p.leave_start_s + 1.0) is p
    sc.send_on(p.id, cut)
    sc.send_on(p.id, cut + 0.3)  # told again: the first time holds
    ids = [[q["id"] for q in sc.frame_at(t).truth["people"] if q["phase"] == "standing"]
           for t in (cut - 0.1, cut + 0.2)]
    assert p.id in ids[0] and p.id not in ids[1]
