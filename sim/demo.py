"""``make demo``: a broker, four simulated gates, the controller and the console, on this machine.

- The broker is mosquitto when it is installed, otherwise an embedded pure-Python
  broker (amqtt), on a free loopback port.
- Four virtual gates run the real firmware on virtual hardware. Each cycles through
  scenarios. Fevers are occasional, about one person in 22: a fever scenario is
  played only for its first two people (the second one febrile), between whole
  afebrile scenarios. The first gate starts with it, so a fever alarm comes
  within the first minute.
- Who is at the gate: the school's made-up roster (``sim/demo_roster.csv``,
  24 students in four classes and two teachers) is imported at start, and the
  virtual people scan their QR code 1 s before stepping onto the mark, so the
  console names them. ``[site] require_identity`` is on: one person in twelve
  shows a code the roster does not know (a courier's), and their normal
  reading gives RETRY ``register_at_gatehouse`` with the door shut. A fever
  alarm names the person, their class and class teacher (``[classes]``).
- The controller runs in this process, with its console on http://127.0.0.1:8080/.
  A demo restarted at once finds 8080 in TIME_WAIT and binds it anyway
  (SO_REUSEADDR); if another program listens there, it waits up to 15 s, then
  takes a free port and says so. A demo login is printed.
- Ctrl-C stops the controller, then the gates, then the broker (mosquitto runs
  in its own session, so the terminal's Ctrl-C does not stop it first and no
  gate is reported offline), and removes the broker's temporary folder.
  ``--seconds N`` stops by itself after N seconds and exits 0 only if the
  controller made at least one decision (the CI smoke test).

Everything lives in ``build/demo/`` and starts afresh on every run.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_USER = "demo"
DEMO_PASSWORD = "thermogate-demo"
GATE_NAMES = ("东门 1号", "东门 2号", "北门", "西门")  # the console shows these, in both languages
# Each gate's scenarios in turn: (name, seconds to play it, None for the whole scenario). The fever
# scenario's people are normal, febrile, normal, ... (sim/scenarios.py): its first two walk up by 12 s, so
# 14 s of it is one fever in two people. The first gate plays 25 s of it first (four people, one febrile)
# for an alarm within the first minute. About 1 person in 22 is febrile (tests/test_demo.py counts them).
FEVER_SHORT = ("fever", 14.0)
CYCLES = (
    (("fever", 25.0), ("normal_queue", None), ("hot_cup", None)),
    (("normal_queue", None), ("glasses", None), FEVER_SHORT),
    (("two_people", None), FEVER_SHORT, ("far", None)),
    (("hat", None), FEVER_SHORT),
)


PORT_WAIT_S = 15.0
ROSTER = Path(__file__).resolve().parent / "demo_roster.csv"
STUDENTS = 24  # DEMO-S01 .. DEMO-S24 in the roster
CLASS_TEACHERS = {"初一(1)班": ("李老师", "138 0000 0101"), "初一(2)班": ("陈老师", "138 0000 0102"),
                  "初二(1)班": ("王老师", "138 0000 0201"), "初二(2)班": ("张老师", "138 0000 0202")}
STRANGER = "SF-EXPRESS-0815"  # a courier's code, on nobody's roster


def demo_code(gate: int):
    """The QR code person ``i`` of a queue at gate ``gate`` (0-based) scans: a student of the roster, each
    gate its own share of them, and one person in twelve a code nobody registered."""
    def code(i: int) -> str:
        if i % 12 == 7:
            return STRANGER
        return f"DEMO-S{(gate * 6 + i) % STUDENTS + 1:02d}"

    return code


def _bindable(port: int) -> int | None:
    """``port`` if a server could listen on it now, with SO_REUSEADDR as the console's server binds
    (a port left in TIME_WAIT by the previous run is free for it); port 0 gives a free one."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return None
        return s.getsockname()[1]


def console_port(preferred: int, wait_s: float = PORT_WAIT_S, say=print) -> int:
    """The console's port: ``preferred`` once nothing listens on it (waiting up to ``wait_s``, e.g. for
    a demo still stopping), else a free one, said out loud so the guard's bookmark is not silently wrong."""
    deadline = time.monotonic() + wait_s
    told = False
    while True:
        port = _bindable(preferred)
        if port is not None:
            return port
        if time.monotonic() >= deadline:
            port = _bindable(0)
            if port is None:
                raise OSError("no free port on 127.0.0.1 for the console")
            say(f"port {preferred} is still in use after {wait_s:g} s: the console is on port {port} instead")
            return port
        if not told:
            say(f"port {preferred} is in use (a demo still stopping?): waiting up to {wait_s:g} s for it")
            told = True
        time.sleep(0.25)


def _start_broker():
    try:
        from .embedded_broker import start_demo_broker
    except ImportError:
        from .broker import MosquittoBroker

        return MosquittoBroker().start()
    return start_demo_broker()


class CyclingGates:
    """Virtual gates stepping in a thread, each moving to its next scenario when one ends."""

    def __init__(self, broker, count: int = 4):
        from .runner import make_gates
        from .scenarios import scenario

        self._scenario = scenario
        self.gates = make_gates(count, lambda i: scenario(CYCLES[i % len(CYCLES)][0][0], seed=i,
                                                          credentials=demo_code(i)), broker.host,
                                broker.port, prefix="demo")
        self._step = [0] * count
        self.played: list[list[tuple[str, float]]] = [[] for _ in range(count)]  # (name, seconds) per gate
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="demo-gates", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            for i, g in enumerate(self.gates):
                cycle = CYCLES[i % len(CYCLES)]
                _name, seconds = cycle[self._step[i] % len(cycle)]
                if g.t >= (g.scenario.duration_s if seconds is None else seconds):
                    self.played[i].append((g.scenario.name, g.t))
                    self._step[i] += 1
                    name, _ = cycle[self._step[i] % len(cycle)]
                    g.switch_scenario(self._scenario(name, seed=i + 10 * self._step[i], credentials=demo_code(i)))
                g.step()
            time.sleep(max(0.0, 0.005 - (time.monotonic() - start)))

    def start(self) -> CyclingGates:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        for g in self.gates:
            g.close()


def write_config(directory: Path, broker, http_port: int, gate_ids: list[str]) -> Path:
    path = directory / "controller.toml"
    ids = ", ".join(f'"{g}"' for g in gate_ids)
    path.write_text(f"""# The demo's controller configuration (written by sim/demo.py on every run).
[mqtt]
host = "{broker.host}"
port = {broker.port}
client_id = "thermogate-demo-controller"

[site]
dir = "site"
timezone = "Asia/Shanghai"
simulated_gates = [{ids}]
require_identity = true        # a PASS opens only for someone on the roster (sim/demo_roster.csv)

[store]
url = "thermogate.db"

[http]
bind = "127.0.0.1"
port = {http_port}
""" + "".join(f'\n[classes."{c}"]\nteacher = "{t}"\nphone = "{p}"\n' for c, (t, p) in CLASS_TEACHERS.items())
      + "".join(f'\n[gates.{g}]\nname = "{GATE_NAMES[i % len(GATE_NAMES)]}"\n' for i, g in enumerate(gate_ids)),
                    encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.demo", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, help="stop after this long (exit 1 if nothing was decided)")
    parser.add_argument("--http-port", type=int, default=8080, help="the console's port (default 8080, "
                        "or a free one if taken)")
    parser.add_argument("--dir", default=str(REPO / "build" / "demo"), help="where the demo keeps its files")
    args = parser.parse_args(argv)

    from controller.app import build_controller
    from controller.identity.people_store import PeopleStore
    from controller.identity.roster_import import import_roster
    from controller.service import logs
    from controller.service.config import load_config

    from .gate_config import provision_keys

    directory = Path(args.dir)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    logs.setup("warning", stream=open(directory / "controller.log", "a", encoding="utf-8"))

    broker = _start_broker()
    gate_ids = [f"demo-{i + 1}" for i in range(4)]
    http_port = console_port(args.http_port)
    config = load_config(write_config(directory, broker, http_port, gate_ids))
    provision_keys(config.site_dir, gate_ids)  # the gates' keys, where the controller reads every gate's key
    service = build_controller(config)
    if hasattr(service.store, "add_user"):
        service.store.add_user(DEMO_USER, "admin", DEMO_PASSWORD)
    roster = import_roster(PeopleStore.beside(service.store), ROSTER.read_bytes(), time.time())
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    gates = None
    try:
        service.start()
        gates = CyclingGates(broker).start()
        kind = type(broker).__name__.replace("Broker", "").lower() or "broker"
        print(f"thermogate demo: broker ({kind}) on {broker.host}:{broker.port}, gates {', '.join(gate_ids)}")
        assert service.http is not None  # started with the service: build_controller serves HTTP
        print(f"  console:  http://127.0.0.1:{service.http.port}/")
        print(f"  login:    {DEMO_USER} / {DEMO_PASSWORD}  (admin)")
        print(f"  roster:   {ROSTER.name}: {roster.summary()}; the gates' people scan their codes")
        print(f"  results:  mosquitto_sub -p {broker.port} -t 'thermogate/+/result' -v")
        print(f"  files:    {directory} (controller.toml, thermogate.db, controller.log)")
        print("  the first fever alarm comes within a minute. Ctrl-C stops everything.", flush=True)
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while not stop.wait(0.5):
            if deadline is not None and time.monotonic() >= deadline:
                break
    finally:
        # The controller first (it must not see its gates or broker go), then the gates, then the broker.
        decided = len(service.store.screenings(limit=100000))
        service.stop()
        if gates is not None:
            gates.stop()
        broker.close()  # stops it and removes its temporary folder
    print(f"thermogate demo stopped: {decided} screening decisions recorded in {directory / 'thermogate.db'}")
    if args.seconds is not None and decided == 0:
        print("error: no decision was made", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
