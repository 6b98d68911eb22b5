"""One gate's screening pipeline, the same live and offline:
subpage words -> temperatures (assembled image) -> scene analysis -> tracker -> decisions.
"""

from __future__ import annotations

from ..sensor import Calibration, FrameAssembler, FrameError
from .analysis import Analyzer
from .config import ScreeningConfig
from .decision import Decision
from .tracker import Tracker


class GatePipeline:
    def __init__(self, gate: str, eeprom_words, config: ScreeningConfig = ScreeningConfig()):
        self.gate = gate
        self.config = config
        self.calibration = Calibration.from_eeprom(eeprom_words)
        self.assembler = FrameAssembler(self.calibration)
        self.analyzer = Analyzer(config.analysis)
        self.tracker = Tracker(gate, config)
        self.frames = 0
        self.frame_errors = 0

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
        return self.tracker.update(time_s, sequence, self.analyzer.analyze(image.to))
