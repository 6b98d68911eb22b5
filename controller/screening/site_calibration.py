"""The per-site offset: readings of a clinical thermometer against the gate's estimates.

A nurse takes a clinical reading of a few people as they pass the gate. The
offset that makes the gate agree with the thermometer on average is the
median difference; the spread that remains is reported, because it is the
person-to-person variation no offset can remove.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class SiteCalibration:
    offset_c: float  # add to the gate's estimates
    residual_sd_c: float  # spread of clinical - (estimate + offset)
    pairs: int


def fit_site_offset(pairs: list[tuple[float, float]], current_offset_c: float = 0.0) -> SiteCalibration:
    """``pairs`` of (gate estimate made with ``current_offset_c``, clinical reading)."""
    if len(pairs) < 3:
        raise ValueError(f"need at least 3 paired readings, got {len(pairs)}")
    diffs = [clinical - estimate for estimate, clinical in pairs]
    delta = statistics.median(diffs)
    residuals = [d - delta for d in diffs]
    return SiteCalibration(current_offset_c + delta, statistics.pstdev(residuals), len(pairs))
