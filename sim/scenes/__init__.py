"""Synthetic thermal scenes with ground truth (docs/simulation.md).

- :mod:`.physiology`: core -> skin temperatures, emissivity, apparent temperature
- :mod:`.face`: the regions of a person, rasterised once per look
- :mod:`.optics`: projection (controller/geometry.py), mixed pixels, lens blur
- :mod:`.room`: background, warm wall, reference source
- :mod:`.sensor_errors`: noise, per-pixel offsets, drift, garbage pixels
- :mod:`.people`: who walks up when, and where they are
- :mod:`.scene`: all of it rendered at a moment, with the ground truth

The named scenarios built from these are in :mod:`sim.scenarios`.
"""

from .face import Look
from .optics import Mounting
from .people import PersonPlan
from .scene import GarbageWindow, Scene, SceneSpec

__all__ = ["GarbageWindow", "Look", "Mounting", "PersonPlan", "Scene", "SceneSpec"]
