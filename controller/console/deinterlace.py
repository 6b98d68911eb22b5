"""The live image without the chess-board of a moving person.

The MLX90640 reads half its pixels per subpage (a chess board in chess mode,
every other row in interleaved mode). The assembled image a gate's pipeline
keeps is half from the latest subpage (``fresh``) and half from the one
before, 1/8 s older: a person who moved in between shows as a board of dots,
which a guard reads as a broken camera.

For the console only (the screening reads the assembled image as it is),
each stale pixel becomes the median of itself and its fresh 4-neighbours
(median deinterlacing): where the scene stood still it lies among them and
is kept as measured; where something moved it is the odd one out and a fresh
neighbour's value takes its place, so the image shows where the person is
now. Fresh pixels are never changed.

``merge_stale`` is the compiled kernel; ``merge_stale_reference`` is the same
in plain numpy, and the tests hold them equal.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _merge(image, fresh, out):
    rows, cols = image.shape
    vals = np.empty(5, dtype=np.float64)
    for r in range(rows):
        for c in range(cols):
            v = image[r, c]
            out[r, c] = v
            if fresh[r, c] or not np.isfinite(v):
                continue
            vals[0] = v
            n = 1
            for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                rr = r + dr
                cc = c + dc
                if 0 <= rr < rows and 0 <= cc < cols and fresh[rr, cc] and np.isfinite(image[rr, cc]):
                    x = float(image[rr, cc])
                    k = n  # insertion sort of at most five values
                    while k > 0 and vals[k - 1] > x:
                        vals[k] = vals[k - 1]
                        k -= 1
                    vals[k] = x
                    n += 1
            if n == 1:
                continue
            # ``v`` went in first, unsorted: put it in its place too.
            k = 0
            while k + 1 < n and vals[k] > vals[k + 1]:
                vals[k], vals[k + 1] = vals[k + 1], vals[k]
                k += 1
            if n % 2:
                out[r, c] = vals[n // 2]
            else:
                out[r, c] = 0.5 * (vals[n // 2 - 1] + vals[n // 2])


def merge_stale(image: np.ndarray, fresh: np.ndarray) -> np.ndarray:
    """A copy of ``image`` (24 x 32 degC, NaN without a reading) with each finite stale pixel (not
    ``fresh``) replaced by the median of itself and its fresh finite 4-neighbours (the mean of the middle
    two for an even count); a pixel without any fresh neighbour keeps its value."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    fresh = np.ascontiguousarray(fresh, dtype=np.bool_)
    if image.shape != fresh.shape:
        raise ValueError(f"image {image.shape} and fresh {fresh.shape} differ in shape")
    out = np.empty_like(image)
    _merge(image, fresh, out)
    return out


def merge_stale_reference(image: np.ndarray, fresh: np.ndarray) -> np.ndarray:
    """Plain numpy version of :func:`merge_stale`."""
    image = np.asarray(image, dtype=np.float32)
    fresh = np.asarray(fresh, dtype=bool)
    usable = np.where(fresh, image.astype(np.float64), np.nan)
    stack = np.full((5,) + image.shape, np.nan)
    stack[0] = image
    stack[1, 1:, :] = usable[:-1, :]   # the neighbour above
    stack[2, :-1, :] = usable[1:, :]   # below
    stack[3, :, 1:] = usable[:, :-1]   # left
    stack[4, :, :-1] = usable[:, 1:]   # right
    change = ~fresh & np.isfinite(image) & np.isfinite(stack[1:]).any(axis=0)
    out = image.copy()
    out[change] = np.nanmedian(stack[:, change], axis=0)
    return out
