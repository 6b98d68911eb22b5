"""What a person looks like to the sensor: regions of head and body, rasterised once per look.

A person is drawn in a frontal plane, in metres: ``u`` runs to the sensor's
right (increasing columns), ``v`` up, both from the point between the eyes.
The face is :data:`controller.geometry.FACE_WIDTH_M` wide and runs
:data:`controller.geometry.FACE_HALF_HEIGHT_M` below and above the eyes, the
face the installation geometry is worked out for.

Each region (forehead, inner canthi, hair, glasses ...) is an analytic shape.
The inner canthus is two: a hot spot 4 mm across (``canthus``, the canthus
maximum a fine camera reads) inside a canthus region 1.6 x 1.4 cm
(``canthus_ring``, the rest of it), whose average over spot and ring is the
region average the facial-oral study reads (``RCC``, ``LCC``).
A :class:`Template` holds, for one :class:`Look`, the fraction of every cell of
a fixed grid that each region covers (6 x 6 samples per cell). The grid is fine
(5 mm, sampled every 0.83 mm) over the face and coarse over the body.
Rendering a frame only mixes these masks with the regions' radiances and
resamples the result to the sensor's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from controller.geometry import FACE_HALF_HEIGHT_M, FACE_WIDTH_M

REGIONS = ("forehead", "temple", "periorbital", "eye", "canthus", "nose", "lower_face", "neck",
           "hair", "clothing", "fringe", "hat", "glasses", "mask", "cup", "hand", "canthus_ring")

# Emissivities: skin 0.98 (Steketee 1973); the ocular surface (water) 0.97; textiles, hair,
# ceramics about 0.95; glass is opaque in the 8-14 um band and reflects more (about 0.90).
EMISSIVITY = {r: 0.98 for r in REGIONS} | {"eye": 0.97, "hair": 0.95, "clothing": 0.95, "fringe": 0.95,
                                           "hat": 0.95, "glasses": 0.90, "mask": 0.95, "cup": 0.95}

FACE_HALF_WIDTH_M = FACE_WIDTH_M / 2.0
HEAD_CENTRE_V = 0.01
HEAD_HALF_HEIGHT_M = FACE_HALF_HEIGHT_M + HEAD_CENTRE_V  # chin at -FACE_HALF_HEIGHT_M
CANTHUS_U = 0.018  # the inner canthi, each side of the nose bridge
CANTHUS_V = -0.001
CANTHUS_REGION_M = (0.008, 0.007)  # semi-axes of the canthus region (1.6 x 1.4 cm), which the study averages
CANTHUS_SPOT_M = 0.002  # radius of the hot spot at the inner eye corner (4 mm across), the canthus maximum
CUP_BOX_M = (0.095, 0.165, -0.22, -0.12)  # u0, u1, v0, v1 of a cup held beside the chin
SAMPLES = 6


def _edges(*pieces: tuple[float, float, float]) -> np.ndarray:
    """Cell edges from consecutive (start, stop, step) pieces."""
    out = [pieces[0][0]]
    for start, stop, step in pieces:
        n = int(round(abs(stop - start) / step))
        out.extend(np.linspace(start, stop, n + 1)[1:])
    return np.array(out)


# u left to right; v top to bottom (rows grow downwards on the sensor).
U_EDGES = _edges((-0.24, -0.09, 0.025), (-0.09, 0.09, 0.005), (0.09, 0.24, 0.025))
V_EDGES = _edges((0.14, -0.12, 0.005), (-0.12, -0.47, 0.035), (-0.47, -1.37, 0.075))


@dataclass(frozen=True)
class Look:
    """What a person wears or carries. ``cover``: None, "hat" or "fringe" (hair over the forehead)."""

    glasses: bool = False
    cover: str | None = None
    mask: bool = False
    cup: bool = False

    def __post_init__(self) -> None:
        if self.cover not in (None, "hat", "fringe"):
            raise ValueError(f"cover must be None, 'hat' or 'fringe', got {self.cover!r}")


def _ellipse(u, v, cu, cv, a, b):
    return ((u - cu) / a) ** 2 + ((v - cv) / b) ** 2 <= 1.0


def _box(u, v, u0, u1, v0, v1):
    return (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1)


def hairline_v(u):
    """Height of the hairline above the eyes: 7 cm in the middle, lower at the temples."""
    return 0.07 - 0.035 * (u / FACE_HALF_WIDTH_M) ** 2


def label_map(look: Look, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Region index + 1 at each point (0: not the person), painted back to front."""
    lab = np.zeros(np.broadcast_shapes(u.shape, v.shape), dtype=np.int8)

    def paint(name: str, where) -> None:
        lab[where] = REGIONS.index(name) + 1

    au = np.abs(u)
    # Body: neck, then the clothed torso with shoulders widening below the collar, then the legs.
    paint("neck", (au <= 0.05) & (v <= -0.05) & (v >= -0.22))
    shoulder = np.clip(0.06 + 2.2 * (-0.15 - v), 0.0, 0.21)
    paint("clothing", (v <= -0.15) & (au <= np.where(v < -0.85, 0.17, shoulder)))
    # Head: lower face, eye band, forehead, temples, hair above the hairline.
    head = _ellipse(u, v, 0.0, HEAD_CENTRE_V, FACE_HALF_WIDTH_M, HEAD_HALF_HEIGHT_M)
    hair_shape = _ellipse(u, v, 0.0, HEAD_CENTRE_V + 0.006, FACE_HALF_WIDTH_M + 0.007, HEAD_HALF_HEIGHT_M + 0.012)
    hairline = hairline_v(u)
    paint("hair", hair_shape & (v >= hairline))
    paint("lower_face", head & (v < -0.018))
    paint("periorbital", head & (v >= -0.018) & (v < 0.02) & (au < 0.065))
    paint("temple", head & (v >= -0.018) & (v < hairline) & ((au >= 0.06) | ((v < 0.02) & (au >= 0.065))))
    paint("forehead", head & (v >= 0.02) & (v < hairline) & (au < 0.06))
    paint("nose", (v >= -0.055) & (v < -0.018) & (au <= 0.011 + 0.27 * (-0.018 - v)))
    paint("eye", _ellipse(au, v, 0.032, 0.0, 0.013, 0.0055))
    paint("canthus_ring", _ellipse(au, v, CANTHUS_U, CANTHUS_V, *CANTHUS_REGION_M))
    paint("canthus", _ellipse(au, v, CANTHUS_U, CANTHUS_V, CANTHUS_SPOT_M, CANTHUS_SPOT_M))
    if look.cover == "fringe":
        strands = 0.028 + 0.006 * np.cos(u * 260.0)
        paint("fringe", hair_shape & (v >= strands))
    elif look.cover == "hat":
        paint("hat", _ellipse(u, v, 0.0, HEAD_CENTRE_V + 0.01, FACE_HALF_WIDTH_M + 0.011, HEAD_HALF_HEIGHT_M + 0.02)
              & (v >= 0.034))
    if look.mask:
        paint("mask", (au <= 0.07) & (v <= -0.012) & _ellipse(u, v, 0.0, -0.05, 0.08, 0.058))
    if look.glasses:
        lens = ((au - 0.034) / 0.025) ** 4 + ((v + 0.001) / 0.018) ** 4 <= 1.0
        paint("glasses", lens | _box(au, v, 0.0, 0.01, 0.004, 0.009) | _box(au, v, 0.058, 0.082, 0.002, 0.006))
    if look.cup:
        paint("cup", _box(u, v, *CUP_BOX_M))
        paint("hand", _box(u, v, 0.088, 0.172, -0.215, -0.185) | _box(u, v, 0.095, 0.165, -0.25, -0.215))
    return lab


@dataclass(frozen=True)
class Template:
    """One look rasterised: region coverage per grid cell, for the regions present only.

    ``masks[j]`` is the fraction of each cell (``V_EDGES`` rows x ``U_EDGES``
    columns) covered by region ``regions[j]`` (an index into
    :data:`REGIONS`), flattened; ``forehead_visible`` and ``canthus_visible``
    are the shares of the bare forehead and canthus regions (spot and ring)
    this look leaves in view.
    """

    look: Look
    regions: np.ndarray
    masks: np.ndarray
    forehead_visible: float
    canthus_visible: float

    @property
    def shape(self) -> tuple[int, int]:
        return len(V_EDGES) - 1, len(U_EDGES) - 1


def _samples(edges: np.ndarray) -> np.ndarray:
    """SAMPLES points per cell, at the centres of equal sub-cells."""
    frac = (np.arange(SAMPLES) + 0.5) / SAMPLES
    return (edges[:-1, None] + np.diff(edges)[:, None] * frac[None, :]).ravel()


@cache
def template(look: Look) -> Template:
    """The rasterised masks of ``look`` (computed once per look, shared by every scene)."""
    u = _samples(U_EDGES)[None, :]
    v = _samples(V_EDGES)[:, None]
    lab = label_map(look, u, v)
    bare = label_map(Look(), u, v) if look != Look() else lab
    nv, nu = len(V_EDGES) - 1, len(U_EDGES) - 1
    present = [k for k in range(len(REGIONS)) if np.any(lab == k + 1)]
    masks = np.stack([(lab == k + 1).reshape(nv, SAMPLES, nu, SAMPLES).mean(axis=(1, 3)).ravel() for k in present])

    def share(*names: str) -> float:
        k = [REGIONS.index(name) + 1 for name in names]
        return float(np.count_nonzero(np.isin(lab, k)) / np.count_nonzero(np.isin(bare, k)))

    return Template(look=look, regions=np.array(present), masks=np.ascontiguousarray(masks),
                    forehead_visible=share("forehead"), canthus_visible=share("canthus", "canthus_ring"))


@cache
def canthus_spot_share() -> float:
    """The hot spot's share of the canthus region (spot and ring) as rasterised, so that a ring painted at
    ``maximum - gap / (1 - share)`` leaves the region's average ``gap`` below its maximum."""
    masks = template(Look())
    regions = list(masks.regions)
    cell = np.abs(np.outer(np.diff(V_EDGES), np.diff(U_EDGES))).ravel()  # cell areas: the grid is not uniform

    def area(name: str) -> float:
        return float(masks.masks[regions.index(REGIONS.index(name))] @ cell)

    spot = area("canthus")
    return spot / (spot + area("canthus_ring"))
