"""make fuzz: every hostile-input property of tests/test_fuzz.py with its full budget, and the figures.

The same test functions ``make test`` runs with a small budget run here with
THERMOGATE_FUZZ_SCALE set (1.0 gives over 100,000 generated inputs in all).
The table says, per surface, how many inputs were tried and what became of
them: accepted, or the reason they were refused, as the code under test
counted it. Any property that fails is reported with hypothesis's minimal
failing example and the run exits with status 1.

    python bench/fuzz.py [--scale 1.0] [-k substring]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every property's full budget")
    parser.add_argument("-k", dest="only", default="", help="run only the properties whose name contains this")
    args = parser.parse_args(argv)
    os.environ["THERMOGATE_FUZZ_SCALE"] = str(args.scale)  # read when the test module is imported
    sys.path[:0] = [str(REPO), str(REPO / "tests")]
    import logging

    logging.disable(logging.WARNING)  # each refusal logs a warning; the table counts them instead
    import test_fuzz as F

    tests = [(name, fn) for name, fn in vars(F).items()
             if name.startswith("test_") and callable(fn) and args.only in name]
    failures = []
    started = time.perf_counter()
    with F.fuzz_resources() as resources:
        for name, fn in tests:
            t0 = time.perf_counter()
            before = F.TALLY.total()
            try:
                fn(**{k: resources[k] for k in F.fixture_names(fn)})
                status = "ok"
            except Exception:
                failures.append((name, traceback.format_exc()))
                status = "FAILED"
            print(f"{status:6} {name}: {F.TALLY.total() - before:,} inputs in {time.perf_counter() - t0:.1f} s",
                  flush=True)
    print()
    print(render(F.TALLY))
    print(f"\n{F.TALLY.total():,} generated inputs in {time.perf_counter() - started:.0f} s; "
          f"{len(failures)} failing properties")
    for name, text in failures:
        print(f"\n--- {name}\n{text[-6000:]}")
    return 1 if failures else 0


def render(tally) -> str:
    """Surface, inputs, and the outcomes by count (largest first)."""
    rows = []
    width = max((len(s) for s in tally.counts), default=10)
    rows.append(f"{'surface':{width}}  {'inputs':>9}  {'accepted':>9}  {'refused':>9}  refusals by reason")
    rows.append("-" * (width + 80))
    for surface in sorted(tally.counts):
        c = tally.counts[surface]
        accepted = sum(n for r, n in c.items() if r.startswith("accepted"))
        inputs = sum(c.values())
        reasons = ", ".join(f"{r} {n:,}" for r, n in c.most_common() if not r.startswith("accepted"))
        rows.append(f"{surface:{width}}  {inputs:9,}  {accepted:9,}  {inputs - accepted:9,}  {reasons}")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
