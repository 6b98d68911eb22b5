"""Shared fixtures: the Melexis reference vectors and generated sensors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
VECTORS = REPO.parent / "shared" / "vectors" / "melexis_example_xlsx.json"


@pytest.fixture(scope="session")
def melexis_example() -> dict:
    """The vendor's published example device (EEPROM, two frames, expected To)."""
    if not VECTORS.exists():
        pytest.fail(f"reference vectors not found at {VECTORS}: the checkout needs ../shared beside it")
    return json.loads(VECTORS.read_text())


@pytest.fixture(scope="session")
def melexis_frames(melexis_example) -> list[np.ndarray]:
    return [np.array(f, dtype=np.uint16) for f in melexis_example["frames"]]
