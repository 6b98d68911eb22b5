"""Load the gate firmware's own modules into this (CPython) process.

The firmware is MicroPython code that imports ``machine``, ``network`` and
``micropython`` as top-level modules. On a host those come from
``sim/hardware`` (virtual hardware) and a ``micropython`` shim; the
firmware's modules themselves, its MQTT client included, are imported
unchanged from ``firmware/``.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from pathlib import Path

SIM = Path(__file__).resolve().parent
HARDWARE = SIM / "hardware"


def firmware_dir() -> Path:
    """``$THERMOGATE_FIRMWARE``, else the ``firmware/`` beside this package in a checkout."""
    path = Path(os.environ.get("THERMOGATE_FIRMWARE") or SIM.parent / "firmware")
    if not (path / "gate.py").exists():
        raise FileNotFoundError(f"gate firmware not found in {path}: run from a checkout or set THERMOGATE_FIRMWARE")
    return path


def _micropython_shim() -> types.ModuleType:
    module = types.ModuleType("micropython")
    module.const = lambda value: value  # type: ignore[attr-defined]
    return module


def load_firmware() -> types.SimpleNamespace:
    """The firmware modules (app, config, gate, ...) and the virtual hardware modules."""
    for path in (str(HARDWARE), str(firmware_dir())):
        if path not in sys.path:
            sys.path.insert(0, path)
    sys.modules.setdefault("micropython", _micropython_shim())
    names = ("machine", "network", "fake_mlx90640", "fake_uart", "fake_pn532", "config", "app", "gate", "wire", "auth",
             "door", "mqtt", "link", "credential", "qr_scanner", "card_reader")
    return types.SimpleNamespace(**{n: importlib.import_module(n) for n in names})
