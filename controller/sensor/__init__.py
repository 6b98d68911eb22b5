"""MLX90640 sensor maths: EEPROM calibration, temperatures per subpage, and the inverse.

Public API (see docs/sensor.md):

- :class:`Calibration` -- ``Calibration.from_eeprom(words)``, ``cal.subpage_to(frame)``,
  ``cal.measure(frame)``, ``cal.ambient(frame)``, ``cal.raw_from_to(image, ta, vdd, subpage, control)``
- :class:`FrameAssembler` -- the latest full 24 x 32 image of one sensor as subpages arrive
- :func:`random_eeprom` -- plausible EEPROMs for tests and simulation
- :class:`EepromError`, :class:`FrameError` -- both ValueError
"""

from typing import TYPE_CHECKING

from .frame import FRAME_WORDS, FrameError, control_word, describe_control

if TYPE_CHECKING:
    from .assembler import FrameAssembler, Image
    from .calibration import Calibration, Subpage
    from .eeprom import EEPROM_WORDS, EepromError, EepromParameters, parse_eeprom
    from .synthetic import random_eeprom

# The rest load on first use: the maths compiles numba kernels, and ``controller.sensor.frame`` (the array's
# shape and the refresh rates) is imported by modules that need nothing else of the sensor.
_LAZY = {"FrameAssembler": "assembler", "Image": "assembler", "Calibration": "calibration", "Subpage": "calibration",
         "EEPROM_WORDS": "eeprom", "EepromError": "eeprom", "EepromParameters": "eeprom", "parse_eeprom": "eeprom",
         "random_eeprom": "synthetic"}

__all__ = [
    "Calibration", "Subpage", "FrameAssembler", "Image", "EepromError", "EepromParameters", "FrameError",
    "parse_eeprom", "random_eeprom", "control_word", "describe_control", "EEPROM_WORDS", "FRAME_WORDS",
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
