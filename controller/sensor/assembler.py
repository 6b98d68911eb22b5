"""The latest full 24 x 32 image of one sensor, assembled as subpages arrive.

The MLX90640 measures half its pixels per subpage (a chess board or every
other row). The assembler merges each subpage into the running image and
remembers, per pixel, which subpage last measured it: the image is
``complete`` once every pixel has been measured, ``fresh`` marks the pixels
the latest subpage measured, and ``age`` counts subpages since each pixel was
measured (a lost subpage shows up as pixels two or more subpages old).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from . import kernels as K
from .calibration import Calibration
from .frame import COLUMNS, ROWS
from .reference import subpage_pattern

_SHAPE = (ROWS, COLUMNS)
_new = object.__new__


@dataclass(frozen=True)
class Image:
    """One assembled image; its arrays are copies the caller may keep."""

    to: np.ndarray  # (24, 32) float32 degC; NaN where never measured
    fresh: np.ndarray  # (24, 32) bool: measured by the latest subpage
    age: np.ndarray  # (24, 32) int32: subpages since measured; -1 never
    complete: bool  # every pixel measured at least once
    sequence: int  # subpages merged so far
    subpage: int  # the latest subpage's number
    chess: bool  # the latest subpage's reading pattern
    ta: float
    vdd: float


class FrameAssembler:
    """Merges one sensor's subpages into its latest full image."""

    def __init__(self, calibration: Calibration, emissivity: float = 1.0, tr: float | None = None):
        self.calibration = calibration
        self.emissivity = emissivity
        self.tr = tr
        self._scratch = np.empty((ROWS, COLUMNS), dtype=np.float32)
        self._masks = {(chess, sp): (subpage_pattern(chess) == sp).reshape(ROWS, COLUMNS)
                       for chess in (False, True) for sp in (0, 1)}
        self.reset()

    def reset(self) -> None:
        """Forget everything measured (after a sensor re-init or a new EEPROM)."""
        self._to = np.full((ROWS, COLUMNS), np.nan, dtype=np.float32)
        self._stamp = np.full((ROWS, COLUMNS), -1, dtype=np.int64)
        self.sequence = 0
        self.read_errors = 0  # pixels the driver marked as read errors (0x7FFF), NaN in the image, since the reset

    def push(self, frame) -> Image:
        """Merge one 834-word subpage and return the image as it now stands.

        A frame that cannot be decoded raises FrameError and leaves the image
        as it was."""
        sub = self.calibration.measure(frame, self.emissivity, self.tr, out=self._scratch)
        mask = self._masks[(sub.chess, sub.subpage)]
        self.sequence += 1
        self.read_errors += sub.read_errors
        # One compiled pass (kernels.assemble); assemble_reference is the same in numpy.
        to = np.empty(_SHAPE, dtype=np.float32)
        fresh = np.empty(_SHAPE, dtype=np.bool_)
        age = np.empty(_SHAPE, dtype=np.int32)
        complete = K.assemble(sub.to, mask, self._to, self._stamp, self.sequence, to, fresh, age)
        # Fields set directly: the frozen dataclass's __init__ (object.__setattr__ per field) costs
        # more than the merge itself; the result equals Image(...) (tests/test_sensor_fill_and_assembly.py).
        image = _new(Image)
        image.__dict__.update({"to": to, "fresh": fresh, "age": age, "complete": complete,
                               "sequence": self.sequence, "subpage": sub.subpage, "chess": sub.chess,
                               "ta": sub.ta, "vdd": sub.vdd})
        return image


if [f.name for f in fields(Image)] != ["to", "fresh", "age", "complete", "sequence", "subpage", "chess", "ta",
                                       "vdd"]:
    raise ImportError("Image's fields changed: update FrameAssembler.push")


def assemble_reference(sub: np.ndarray, mask: np.ndarray, image: np.ndarray, stamp: np.ndarray,
                       sequence: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Plain numpy version of :func:`kernels.assemble` (the tests hold the kernel to it).

    Merges ``sub`` into ``image`` where ``mask``, stamps those pixels with
    ``sequence`` in ``stamp`` (both in place) and returns (a copy of the
    image, fresh, age, complete)."""
    np.copyto(image, sub, where=mask)
    stamp[mask] = sequence
    measured = stamp >= 0
    age = np.where(measured, sequence - stamp, -1).astype(np.int32)
    return image.copy(), age == 0, age, bool(measured.all())
