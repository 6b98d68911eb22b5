"""One gate's screening pipeline, the same live and offline:
subpage words -> temperatures (assembled image) -> scene analysis -> tracker -> decisions.

The service reads three things back after each push, all cheap references to
what the pipeline already holds (no copies): ``state`` (the tracker's state),
``last_analysis`` (the latest :class:`FrameAnalysis`, for the console's face
box) and ``image`` (the latest assembled 24 x 32 temperature image, for a
thermal snapshot of the frame a decision was made on; with the sensor's fixed
pixel offsets taken off where a flat field measured them, flat_field.py). ``noise_c`` is the
sensor's noise as measured on its images (``controller.sensor.noise``), and
``held`` why the latest frame gave the person at the mark no decision
(``Tracker.held``; ``thermogate watch`` shows it).
"""

from __future__ import annotations

import numpy as np

from ..protocol.result import Decision
from ..sensor import Calibration, FrameAssembler, FrameError
from ..sensor.noise import SensorNoise
from .analysis import Analyzer, FrameAnalysis
from .config import ScreeningConfig
from .flat_field import offsets_array
from .tracker import Tracker


class GatePipeline:
    def __init__(self, gate: str, eeprom_words, config: ScreeningConfig = ScreeningConfig()):
        self.gate = gate
        self.config = config
        self.calibration = Calibration.from_eeprom(eeprom_words)
        self.assembler = FrameAssembler(self.calibration)
        self.analyzer = Analyzer(config.analysis)
        self.tracker = Tracker(gate, config)
        self.noise = SensorNoise()
        self.frames = 0
        self.frame_errors = 0
        self._analysis: FrameAnalysis | None = None
        self._image: np.ndarray | None = None
        self._fresh: np.ndarray | None = None
        offsets = config.analysis.pixel_offsets_c  # the sensor's fixed per-pixel offsets (flat_field.py), or None
        self._pixel_offsets = None if offsets is None else offsets_array(offsets)

    @property
    def state(self) -> str:
        """The tracker's state, one of tracker.STATES: warming_up, idle, approaching, measuring, blocked, ..."""
        return self.tracker.state

    @property
    def last_analysis(self) -> FrameAnalysis | None:
        """The analysis of the latest complete image (None before the first one)."""
        return self._analysis

    @property
    def image(self) -> np.ndarray | None:
        """The latest complete assembled image, (24, 32) float32 degC (apparent, emissivity 1), or None.

        The array is the pipeline's own reference to that frame's image; a new
        array is made for every frame, so keeping it is safe, but do not write to it."""
        return self._image

    @property
    def held(self) -> str | None:
        """Why the latest frame gave the person waiting at the mark no PASS or FEVER (``Tracker.held``: a RETRY or
        BLOCKED reason, told or not, or one of tracker.HELD_*), None when it decided or nobody waits."""
        return self.tracker.held

    @property
    def noise_c(self) -> float:
        """The noise of one reading of the sensor's pixels (degC, at its refresh rate), as measured on its
        images while nobody is in view; NaN until measured (about a second of such frames)."""
        return self.noise.noise_c

    @property
    def fresh(self) -> np.ndarray | None:
        """Which pixels of :attr:`image` the latest subpage measured, (24, 32) bool (the console's live view
        merges the others, a subpage older, so a moving person does not show as a chess-board)."""
        return self._fresh

    def push(self, words, time_s: float, sequence: int = 0) -> list[Decision]:
        """One subpage (834 words) taken at ``time_s`` seconds on the gate's clock."""
        self.frames += 1
        try:
            image = self.assembler.push(words)
        except FrameError:
            self.frame_errors += 1
            return self.tracker.update(time_s, sequence, None)
        if not image.complete:
            return []
        if self._pixel_offsets is not None:  # the image is the assembler's new array: corrected in place
            np.subtract(image.to, self._pixel_offsets, out=image.to)
        self._image = image.to
        self._fresh = image.fresh
        self._analysis = self.analyzer.analyze(image.to)
        self.noise.update(image.to, image.fresh, empty=self._analysis.warm_pixels == 0)
        decisions = self.tracker.update(time_s, sequence, self._analysis)
        self.analyzer.set_frame_scale(self.tracker.rate.scale)  # the interval as measured so far: next frame on
        return decisions
