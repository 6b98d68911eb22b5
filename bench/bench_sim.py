"""Simulator benchmark: how many virtual gates one process runs in real time.

Each gate is the firmware's own code on virtual hardware with a scenario
rendered and encoded per subpage, publishing to a private mosquitto. One
process, one loop; the figure to look at is the share of real time kept and
how busy the loop was.
"""

from __future__ import annotations

import sys
import time

from sim.broker import MosquittoBroker
from sim.runner import make_gates, run
from sim.scenarios import scenario


def main(counts=(10, 50, 80), seconds: float = 10.0) -> None:
    print(f"virtual gates at 8 subpages/s, scenario normal_queue, {seconds:.0f} s each, one process")
    with MosquittoBroker() as broker:
        for n in counts:
            gates = make_gates(n, lambda i: scenario("normal_queue", i), broker.host, broker.port,
                               prefix=f"bench{n}")
            time.sleep(0.5)
            stats = run(gates, seconds=seconds)
            for g in gates:
                g.close()
            print(f"  {stats.line()} -> {'real time' if stats.kept_up else 'FELL BEHIND'}")


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or (10, 50, 80))
