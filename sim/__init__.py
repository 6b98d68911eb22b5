"""thermogate simulator: virtual gates for hardware-free testing.

- ``sim.scenarios`` / ``sim.scenes``: synthetic thermal scenes with ground truth
- ``sim.gate.VirtualGate``: the gate firmware's own code on virtual hardware
  (``sim/hardware``, ``sim.sensor``), on a real broker
- ``sim.runner``: many virtual gates in one process
- ``sim.recorder``, ``sim.replay``, ``sim.synth``: recording a gate, replaying and synthesizing
  recordings (the format is ``controller.recording``)
- ``sim.broker``: a private mosquitto; ``sim.pytest_plugin``: fixtures

See docs/simulation.md and docs/recordings.md.
"""
