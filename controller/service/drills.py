"""Drills (演练) on the live system: which gates are in a drill, and the simulated fever.

An admin starts a drill on chosen gates with a scenario (controller/cases's
``start_drill`` records it):

- ``simulated_fever``: the controller puts a FEVER decision into each gate's
  normal path (``DecisionHandler.handle``, flagged drill): the record, the
  gate's alarm light and buzzer, the console's banner and sound, the case and
  the notifications run as for a real alarm. A FEVER never opens a door, and
  neither does this one. Real decisions at the gate stay real.
- ``heated_target``: the gate is put in drill mode; a FEVER it decides while the
  drill runs (a heated forehead target held up to it) is a drill's.

The setting a drill changes is each gate's drill mode; its value before is
kept in the drill's record, and ending the drill puts it back. A controller
restarted during a drill finds its gates in drill mode again (``restore``).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ..cases.case_store import CaseStore
from ..cases.records import HEATED_TARGET, SIMULATED_FEVER, Drill
from ..protocol import result as D
from ..protocol.result import Decision

if TYPE_CHECKING:
    from .gate_worker import GateWorker

log = logging.getLogger("thermogate.service")

SIMULATED_ESTIMATE_C = 38.6  # the simulated fever's reading: plainly febrile, plainly not a sensor fault
SIMULATED_TRACK_BASE = 1_000_000  # track numbers far above the tracker's own, so a drill's uid never clashes


def _setting(gate: str) -> str:
    return f"gates.{gate}.drill_mode"


class DrillDesk:
    """The drills running on this controller's gates."""

    def __init__(self, cases: CaseStore, workers: Mapping, inject: Callable[[GateWorker, Decision], None], store):
        """``inject(worker, decision)``: hand a drill's decision to the normal path, flagged drill."""
        self.cases = cases
        self.workers = workers
        self.inject = inject
        self.store = store
        self._mode: dict[str, tuple[int, str]] = {}  # gate -> (drill id, scenario) while a drill runs there
        self._tracks = itertools.count(SIMULATED_TRACK_BASE)
        self._pending: list[str] = []  # gates whose simulated fever waits for the processing thread
        self._lock = threading.Lock()

    def restore(self) -> None:
        """Drills still running after a restart put their gates back in drill mode."""
        try:
            for d in self.cases.drills(running_only=True):
                for g in d.gates:
                    self._mode[g] = (d.id, d.scenario)
        except Exception as exc:
            log.error("running drills not read", extra={"error": repr(exc)[:200]})

    def mode(self, gate: str) -> tuple[int, str] | None:
        return self._mode.get(gate)

    def heated(self, gate: str) -> bool:
        """The gate is in a heated-target drill: a FEVER it decides now is the drill's."""
        m = self._mode.get(gate)
        return m is not None and m[1] == HEATED_TARGET

    def start(self, user: str, gates: Sequence[str], scenario: str) -> Drill:
        """Start a drill on ``gates``; a simulated fever is raised at each at once. ValueError/KeyError for a
        gate not served here, one that has sent no frame yet (simulated_fever) or one in a drill already."""
        gates = sorted(set(gates))
        for g in gates:
            if g not in self.workers:
                raise KeyError(f"no gate {g!r}")
            w = self.workers[g]
            if scenario == SIMULATED_FEVER and (w.boot_id is None or not w.last_sequence):
                raise ValueError(f"gate {g} has sent no frame yet: a simulated fever needs a live gate")
        before = {_setting(g): False for g in gates}  # drill mode was off (a gate in a drill is refused)
        drill = self.cases.start_drill(user, gates, scenario, before)
        for g in gates:
            self._mode[g] = (drill.id, scenario)
        self.store.record_audit(user, time.time(), "drill_started", {"drill": drill.id, "gates": gates,
                                                                     "scenario": scenario})
        log.warning("drill started", extra={"drill": drill.id, "gates": gates, "scenario": scenario})
        if scenario == SIMULATED_FEVER:
            for g in gates:
                self.simulate(g)
        return drill

    def simulate(self, gate: str) -> None:
        """A FEVER decision of the drill at ``gate``, handed to the normal path at the processing thread's next
        tick (``run_pending``), in order with the gate's own decisions; a FEVER never opens the door."""
        with self._lock:
            self._pending.append(gate)

    def run_pending(self) -> int:
        """Hand the simulated fevers waiting to the decision path; called on the dispatcher's thread."""
        with self._lock:
            gates, self._pending = self._pending, []
        for gate in gates:
            w = self.workers[gate]
            self.inject(w, Decision(gate=gate, time_s=time.monotonic(), decision=D.FEVER, reason="",
                                    track=next(self._tracks), estimate_c=SIMULATED_ESTIMATE_C,
                                    sequence=w.last_sequence))
        return len(gates)

    def end(self, drill_id: int, user: str, debrief: str) -> dict:
        """End a drill with its debrief and restore every setting it changed; the settings restored."""
        before = self.cases.end_drill(drill_id, debrief)
        for key, value in before.items():
            gate = key.split(".")[1] if key.startswith("gates.") and key.endswith(".drill_mode") else None
            if gate is not None and not value and self._mode.get(gate, (None,))[0] == drill_id:
                del self._mode[gate]
        self.store.record_audit(user, time.time(), "drill_ended", {"drill": drill_id, "restored": before})
        log.warning("drill ended", extra={"drill": drill_id})
        return before
