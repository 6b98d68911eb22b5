"""``thermogate watch GATE``: a live terminal view of one gate, for aiming its sensor.

An installer at the gate runs it on a laptop. It connects to the broker as a
client of its own, subscribes to ``thermogate/<gate>/eeprom``, ``frame``,
``status`` and ``result``, and runs the frames through the controller's own
per-gate code (:class:`controller.service.gate_worker.GateWorker` around
:class:`controller.screening.pipeline.GatePipeline`) with the gate's
screening settings. Redrawn in place, at most 8 times a second, it shows:

- the 24 x 32 image as double-width colour blocks (the console's ironbow map,
  in truecolor or the 256-colour palette) or ASCII shading, and its scale;
- the main face's box, any other face's, and the reference source's box;
- the face's width, its distance, whether that is in the valid range, and the
  hint the gate would give ("come closer", "step back", ...);
- the reference source, the tracker's state, the latest decision (the
  controller's, from the ``result`` topic; the local pipeline's while no
  controller has answered), frames per second and the gate's status.

- :mod:`.render` -- the drawing: pure functions of the data (data in, lines out), and the terminal
- :mod:`.state` -- :class:`~.state.GateWatch`, the state the messages update, and the view it gives
- :mod:`.link` -- :class:`~.link.Link`, the broker connection (the shared client factory)
- :mod:`.cli` -- the command: its settings, and :func:`~.cli.run`, the loop

The names below are what other commands use of the watch (``thermogate calibrate reference`` follows a gate
live through it).
"""

from .cli import add_commands, gate_key_from_args, run, settings_from_args
from .link import Link
from .state import GateWatch

__all__ = ["GateWatch", "Link", "add_commands", "gate_key_from_args", "run", "settings_from_args"]
