"""MLX90640 sensor maths: EEPROM calibration, temperatures per subpage, and the inverse.

Public API (see docs/sensor.md):

- :class:`Calibration` -- ``Calibration.from_eeprom(words)``, ``cal.subpage_to(frame)``,
  ``cal.measure(frame)``, ``cal.ambient(frame)``, ``cal.raw_from_to(image, ta, vdd, subpage, control)``
- :class:`FrameAssembler` -- the latest full 24 x 32 image of one sensor as subpages arrive
- :func:`random_eeprom` -- plausible EEPROMs for tests and simulation
- :class:`EepromError`, :class:`FrameError` -- both ValueError
"""

from .assembler import FrameAssembler, Image
from .calibration import Calibration, Subpage
from .eeprom import EEPROM_WORDS, EepromError, EepromParameters, parse_eeprom
from .frame import FRAME_WORDS, FrameError, control_word, describe_control
from .synthetic import random_eeprom


__all__ = [
    "Calibration", "Subpage", "FrameAssembler", "Image", "EepromError", "EepromParameters", "FrameError",
    "parse_eeprom", "random_eeprom", "control_word", "describe_control", "EEPROM_WORDS", "FRAME_WORDS",
]
