"""Plain-numpy versions of the scene-analysis kernels, for tests.

Each function here computes what the kernel of the same name in
:mod:`controller.screening.analysis_kernels` computes, written for reading
rather than speed: whole-array numpy operations and new arrays where the
kernels loop over scratch buffers. The signatures follow the kernels' (state
arrays are updated in place, results go into the same ``O_*`` output vector),
so that a test can run both on copies of the same inputs and compare: masks,
labels and counts exactly, temperatures to rounding.
"""

from __future__ import annotations

import math

import numpy as np

from .analysis_kernels import (
    AMBIENT_EVERY,
    BLOCKS,
    CENTRAL_HALF_WIDTH_M,
    CHEEK_OFFSET_M,
    CHI2_1_MEDIAN,
    COLUMNS,
    COVER_BAND_M,
    EYE_LOW_M,
    EYE_SEARCH_M,
    FACE_HALF_HEIGHT_M,
    FOREHEAD_BAND_M,
    GUARD_RING,
    LENS_HALF_WIDTH_M,
    LOWER_FACE_BAND_M,
    MAX_FACES,
    NOSE_BELOW_M,
    NOSE_MIN_DROP_C,
    O_AMBIENT,
    O_BOX,
    O_COLD_NOSE,
    O_COVERED,
    O_DISTANCE,
    O_EDGE,
    O_EYE_LOW,
    O_EYE_ROW,
    O_FACE_PIXELS,
    O_FACES,
    O_FOREHEAD,
    O_GLASSES,
    O_HOT,
    O_IN_VIEW,
    O_LENGTH,
    O_LOWER,
    O_MAX,
    O_NOSE,
    O_OFFSET,
    O_PEOPLE,
    O_REF,
    O_REF_ALLOWED,
    O_REF_BACKGROUND,
    O_REF_FRACTION,
    O_REF_MEAN,
    O_REF_OK,
    O_REF_SIZE,
    O_REF_STATUS,
    O_REF_STD,
    O_SHIFT,
    O_SKIN,
    O_TOPK,
    O_WARM,
    O_WARM_BOX,
    O_WIDTH,
    P_ABSORB_ALPHA,
    P_ALPHA,
    P_BOOTSTRAP,
    P_COVER_DROP,
    P_FACE_CONTRAST,
    P_FACE_MIN_C,
    P_FACE_WIDTH,
    P_GLASSES_DROP,
    P_HOT_C,
    P_MARGIN,
    P_MIN_FACE_PX,
    P_NOSE_DROP,
    P_REF_ALPHA,
    P_REF_BOX,
    P_REF_C,
    P_REF_DRIFT,
    P_REF_DRIFT_ALPHA,
    P_REF_HOLD,
    P_REF_LEARNED,
    P_REF_LEARNED_BG,
    P_REF_MIN_CONTRAST,
    P_REF_MIN_FRACTION,
    P_REF_PIXELS,
    P_REF_STABLE_C,
    P_REF_WINDOW,
    P_SKIN_FRACTION,
    P_TOPK,
    REF_DRIFT,
    REF_HELD,
    REF_NONE,
    REF_NOT_FOUND,
    REF_NOT_LEARNED,
    REF_OK,
    REF_PENDING,
    REF_TOO_SMALL,
    REF_UNSTABLE,
    ROWS,
    S_BG_MEDIAN,
    S_DRIFT,
    S_DRIFT_COUNT,
    S_FRAMES,
    S_LAST_OK,
    S_RING_COUNT,
    S_RING_POS,
    S_WALL,
    SETTLE_TAUS,
    SHIFT_BIN_C,
    STEADY_Z,
    SUBPAGES,
)

# ---- building blocks -------------------------------------------------------------------------------------------

def median_of(buf: np.ndarray, n: int) -> float:
    """Median of buf[:n]; NaN if n == 0."""
    return float(np.median(buf[:n])) if n else math.nan


def label(mask: np.ndarray, eight: bool) -> tuple[np.ndarray, int]:
    """Connected components of ``mask``: int32 labels 1..n in raster order of each component's first pixel.

    Every pixel starts with its own flat index and takes the smallest index
    among itself and its neighbours until nothing changes: each component
    ends up carrying the index of its first pixel, and ranking those gives
    the raster order."""
    fg = mask.astype(bool)
    big = fg.size
    lab = np.where(fg, np.arange(fg.size).reshape(fg.shape), big)
    steps = [(0, 1), (1, 0), (1, 2), (2, 1)]
    if eight:
        steps += [(0, 0), (0, 2), (2, 0), (2, 2)]
    while True:
        pad = np.pad(lab, 1, constant_values=big)
        near = [pad[r:r + fg.shape[0], c:c + fg.shape[1]] for r, c in steps]
        new = np.where(fg, np.minimum(lab, np.minimum.reduce(near)), big)
        if np.array_equal(new, lab):
            break
        lab = new
    roots = np.unique(lab[fg])
    out = np.zeros(fg.shape, dtype=np.int32)
    out[fg] = np.searchsorted(roots, lab[fg]) + 1
    return out, int(roots.size)


def dilate8(mask: np.ndarray) -> np.ndarray:
    """``mask`` grown by one pixel in all eight directions (uint8 0/1)."""
    pad = np.pad(mask.astype(bool), 1)
    rows, cols = mask.shape
    out = np.zeros(mask.shape, dtype=bool)
    for dr in range(3):
        for dc in range(3):
            out |= pad[dr:dr + rows, dc:dc + cols]
    return out.astype(np.uint8)


def close_columns(skin: np.ndarray) -> np.ndarray:
    """``skin`` with vertical gaps of up to two rows filled where skin lies both above and below (uint8 0/1)."""
    s = np.pad(skin.astype(bool), ((2, 2), (0, 0)))
    up1, up2, down1, down2 = s[1:-3], s[:-4], s[3:-1], s[4:]
    filled = s[2:-2] | (up1 & (down1 | down2)) | (up2 & down1)
    return filled.astype(np.uint8)


def interp(x: float, xp: np.ndarray, fp: np.ndarray) -> float:
    """Linear interpolation in a table with increasing ``xp``, clamped at its ends."""
    return float(np.interp(x, xp, fp))


# ---- the frame, step by step -----------------------------------------------------------------------------------

def finite_frame(raw: np.ndarray, bg: np.ndarray, first: bool) -> np.ndarray:
    """``raw`` with non-finite pixels read as the background (on the first frame: the median of the
    finite pixels, and the result becomes ``bg``, in place)."""
    finite = np.isfinite(raw)
    if first:
        fill = float(np.median(raw[finite])) if finite.any() else 0.0
        image = np.where(finite, raw, fill)
        bg[:] = image
        return image
    return np.where(finite, raw, bg)


def background_shift(image: np.ndarray, bg: np.ndarray, busy: np.ndarray, guard: np.ndarray, reach: float) -> float:
    """Median of image - bg over pixels neither busy nor guarded (all unguarded if none; 0 if no pixel),
    from a histogram of SHIFT_BIN_C bins over +-reach, interpolated within the bin."""
    free = (busy == 0) & (guard == 0)
    if not free.any():
        free = guard == 0
    if not free.any():
        return 0.0
    nbins = math.ceil(2.0 * reach / SHIFT_BIN_C)
    bins = np.clip(np.floor((image - bg + reach)[free] / SHIFT_BIN_C).astype(np.int64), 0, nbins - 1)
    hist = np.bincount(bins, minlength=nbins).astype(np.float64)
    half = free.sum() / 2.0
    upto = np.cumsum(hist)
    k = int(np.searchsorted(upto, half))
    below = upto[k] - hist[k]
    return float(-reach + SHIFT_BIN_C * (k + (half - below) / hist[k]))


def background_median(bg: np.ndarray, guard: np.ndarray) -> float:
    """Median of the background model outside the reference's guard."""
    return float(np.median(bg[guard == 0]))


def skin_pixels(image: np.ndarray, bgnow: np.ndarray, guard: np.ndarray, p: np.ndarray, ambient: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, bool]:
    """Warm components and skin: (labels, sizes, hot-near mask, skin mask, number of components, hot seen)."""
    warm = (image > bgnow + p[P_MARGIN]) & (guard == 0)
    labels, n = label(warm, True)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:].astype(np.int64)
    big = np.concatenate([[False], sizes >= 2])[labels]
    hot = big & (image > p[P_HOT_C])
    hot_near = dilate8(hot)
    usable = big & (hot_near == 0)
    peaks = np.full(n + 1, -np.inf)
    np.maximum.at(peaks, labels[usable], image[usable])
    floor_c = max(p[P_FACE_MIN_C], ambient + p[P_FACE_CONTRAST])
    candidates = peaks[1:][peaks[1:] >= floor_c]
    if candidates.size:  # a component whose peak is not skin by the warmest face's cut holds no face
        top = float(candidates.max())
        peaks[1:][(peaks[1:] >= floor_c) & (peaks[1:] < ambient + p[P_SKIN_FRACTION] * (top - ambient))] = -np.inf
    peak = peaks[labels]
    with np.errstate(invalid="ignore"):
        skin = usable & (peak >= floor_c) & (image >= bgnow + p[P_SKIN_FRACTION] * (peak - bgnow))
    return labels, sizes, hot_near, skin.astype(np.uint8), n, bool(hot.any())


def largest_warm(labels: np.ndarray, sizes: np.ndarray, out: np.ndarray) -> None:
    """O_WARM and O_WARM_BOX: the largest warm component of at least two pixels (the first on a tie)."""
    out[O_WARM], out[O_WARM_BOX:O_WARM_BOX + 4] = 0.0, -1.0
    if not (sizes >= 2).any():
        return
    best = int(np.argmax(np.where(sizes >= 2, sizes, -1)))
    rows, cols = np.nonzero(labels == best + 1)
    out[O_WARM] = sizes[best]
    out[O_WARM_BOX:O_WARM_BOX + 4] = rows.min(), cols.min(), rows.max() + 1, cols.max() + 1


def face_table(skin: np.ndarray, faces: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per face (index label - 1): skin pixel count, and skin bounding box r0, c0, r1, c1 inclusive
    ((24, 32, -1, -1) for a face without skin)."""
    counts = np.zeros(n, dtype=np.int64)
    boxes = np.tile(np.array([ROWS, COLUMNS, -1, -1], dtype=np.int64), (n, 1))
    for f in range(1, n + 1):
        rows, cols = np.nonzero((faces == f) & (skin != 0))
        counts[f - 1] = rows.size
        if rows.size:
            boxes[f - 1] = rows.min(), cols.min(), rows.max(), cols.max()
    return counts, boxes


def merge_below(skin: np.ndarray, warm: np.ndarray, faces: np.ndarray, n: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faces with the blobs hanging below a face joined to it: (faces, counts, boxes)."""
    counts, boxes = face_table(skin, faces, n)
    if n == 0:
        return faces.copy(), counts, boxes
    home = np.zeros(n, dtype=np.int64)
    for f in range(1, n + 1):
        where = np.flatnonzero(((faces == f) & (skin != 0)).ravel())
        if where.size:
            home[f - 1] = warm.ravel()[where[0]]
    target = np.full(n, -1)
    for b in range(n):
        if counts[b] == 0:
            continue
        candidates = []
        for a in range(n):
            if a == b or counts[a] == 0 or home[a] != home[b]:
                continue
            if counts[a] < counts[b] or (counts[a] == counts[b] and a > b):
                continue
            size = max(boxes[a, 2] - boxes[a, 0], boxes[a, 3] - boxes[a, 1]) + 1
            below = boxes[b, 0] > boxes[a, 2] and boxes[b, 0] - boxes[a, 2] - 1 <= size
            inside = boxes[b, 1] >= boxes[a, 1] - 1 and boxes[b, 3] <= boxes[a, 3] + 1
            if below and inside:
                candidates.append(a)
        if candidates:
            target[b] = max(candidates, key=lambda a: (counts[a], -a))
    root = np.arange(n)
    for b in range(n):
        while target[root[b]] >= 0:
            root[b] = target[root[b]]
    merged = np.where(faces > 0, root[np.maximum(faces, 1) - 1] + 1, 0).astype(np.int32)
    counts, boxes = face_table(skin, merged, n)
    return merged, counts, boxes


def row_profile(image: np.ndarray, centre: float, half: float) -> np.ndarray:
    """Each row's mean over the columns whose centres lie within ``half`` of ``centre``
    (the column holding ``centre`` if none does)."""
    chosen = np.abs(np.arange(COLUMNS) + 0.5 - centre) <= half
    if chosen.any():
        return image[:, chosen].mean(axis=1)
    return image[:, min(max(int(centre), 0), COLUMNS - 1)].copy()


def eye_line(profile: np.ndarray, row: int) -> float:
    """The vertex of the parabola through the profile at ``row`` and its neighbours, within the row."""
    eye = row + 0.5
    if 0 < row < profile.size - 1:
        a, b, c = profile[row - 1], profile[row], profile[row + 1]
        curvature = a - 2.0 * b + c
        if curvature < 0.0:
            eye += min(max(0.5 * (a - c) / curvature, -0.5), 0.5)
    return eye


def coverage(image: np.ndarray, bgnow: np.ndarray, skin: np.ndarray, hot_near: np.ndarray, guard: np.ndarray,
             faces: np.ndarray, f: int, tref: float, margin: float) -> np.ndarray:
    """How much of each pixel face ``f`` covers, 0..1, from its place between background and ``tref``."""
    denom = tref - bgnow
    blocked = (denom <= margin) | (hot_near != 0) | (guard != 0) | ((skin != 0) & (faces != f))
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.clip((image - bgnow) / denom, 0.0, 1.0)
    return np.where(blocked, 0.0, cover)


def face_temperatures(image: np.ndarray, mine: np.ndarray, hot_near: np.ndarray, top_k: int, out: np.ndarray) -> int:
    """O_FACE_PIXELS, O_MAX, O_TOPK and O_SKIN of the pixels in ``mine``; returns the hottest one's row. O_TOPK: the
    mean of the ``top_k`` pixels whose five-point mean (the pixel and its four neighbours) reads hottest (the pixel
    itself for a neighbour beyond the image or in ``hot_near``), ties to the first in raster order."""
    where = np.flatnonzero(mine.ravel())
    vals = image.ravel()[where]
    padded = np.pad(image, 1, constant_values=np.nan)
    near = np.pad(hot_near != 0, 1, constant_values=True)
    padded[near] = np.nan
    sides = (padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:])
    neighbours = (image + sum(np.where(np.isnan(side), image, side) for side in sides)) / 5.0
    scores = neighbours.ravel()[where]
    chosen = np.lexsort((np.arange(where.size), -scores))[:min(top_k, vals.size)]
    out[O_FACE_PIXELS] = vals.size
    out[O_MAX] = vals.max()
    out[O_TOPK] = vals[chosen].mean()
    out[O_SKIN] = np.median(vals)
    return int(where[np.argmax(vals)] // COLUMNS)


def face_width(cover: np.ndarray, r0: int, c0: int, r1: int, c1: int) -> tuple[float, float]:
    """(width, centre column): the widest row of coverage over the skin's rows and columns (one more either side)."""
    ca, cb = max(0, c0 - 1), min(COLUMNS - 1, c1 + 1)
    row_widths = cover[r0:r1 + 1, ca:cb + 1].sum(axis=1)
    width = float(row_widths.max())
    if width <= 0.0:
        return 1.0, (c0 + c1 + 1) / 2.0
    wide_row = r0 + int(np.argmax(row_widths))
    return width, float(((np.arange(ca, cb + 1) + 0.5) * cover[wide_row, ca:cb + 1]).sum() / width)


def glasses_band(lens: np.ndarray, r0: int, last_start: int, r1: int) -> tuple[float, float]:
    """The coolest one- or two-row band starting in r0 + 1..last_start with rows either side within r0..r1:
    (centre row, drop below the cooler side); (-1, -inf) if none."""
    best, band = -math.inf, -1.0
    for b in range(r0 + 1, last_start + 1):
        for t in (1, 2):
            if b + t > r1:
                continue
            drop = min(lens[b - 1], lens[b + t]) - lens[b:b + t].mean()
            if drop > best:
                best, band = drop, b + (t - 1) / 2.0
    return band, best


def forehead(image: np.ndarray, mine: np.ndarray, eye: float, rows_per_m: float, centre: float, half: float) -> float:
    """Mean of the face's skin FOREHEAD_BAND_M above the eye line in the middle columns; NaN if none."""
    top, bottom = eye - FOREHEAD_BAND_M[1] * rows_per_m, eye - FOREHEAD_BAND_M[0] * rows_per_m
    centres = np.arange(ROWS) + 0.5
    inside = np.flatnonzero((centres >= top) & (centres <= bottom))
    if inside.size:
        first, last = int(inside[0]), int(inside[-1])
    else:
        first = last = min(max(math.floor((top + bottom) / 2.0), 0), ROWS - 1)
    middle = np.abs(np.arange(COLUMNS) + 0.5 - centre) <= half
    region = mine[first:last + 1] & middle[None, :]
    return float(image[first:last + 1][region].mean()) if region.any() else math.nan


def nose_drop(image: np.ndarray, nose_row: float, centre: float, offset: float) -> float:
    """Cheeks (``centre`` -+ ``offset``) minus nose (``centre``) on the row holding ``nose_row``, interpolated."""
    r = min(max(math.floor(nose_row), 0), image.shape[0] - 1)
    row = np.interp([centre - offset, centre + offset, centre], np.arange(image.shape[1]) + 0.5, image[r])
    return float((row[0] + row[1]) / 2.0 - row[2])


def band_mean(profile: np.ndarray, top: float, bottom: float) -> float:
    """Mean of ``profile`` over the continuous rows [top, bottom], weighted by overlap; NaN if none."""
    edges = np.arange(profile.size, dtype=np.float64)
    weights = np.clip(np.minimum(edges + 1.0, bottom) - np.maximum(edges, top), 0.0, None)
    return float((weights * profile).sum() / weights.sum()) if weights.sum() > 0.0 else math.nan


def face_box(mine: np.ndarray, guard: np.ndarray, eye: float, height: float, centre: float, width: float,
             out: np.ndarray) -> None:
    """O_BOX (the geometry's face around the eye line and centre, clipped), O_IN_VIEW (the share of its
    height inside the image) and O_EDGE (out of view left or right, at the guard, skin on the top row, or the
    read bands, forehead to lower face, past the top or bottom)."""
    b0, b1 = math.floor(eye - height / 2.0), math.ceil(eye + height / 2.0)
    a0, a1 = math.floor(centre - width / 2.0), math.ceil(centre + width / 2.0)
    out[O_BOX:O_BOX + 4] = max(b0, 0), max(a0, 0), min(b1, ROWS), min(a1, COLUMNS)
    top = eye - height / 2.0
    out[O_IN_VIEW] = (min(top + height, ROWS) - max(top, 0.0)) / height if height > 0.0 else 0.0
    rows_per_m = height / (2.0 * FACE_HALF_HEIGHT_M)
    rows, cols = np.nonzero(mine)
    sideways = a0 < 0 or a1 > COLUMNS or cols.min() == 0 or cols.max() == COLUMNS - 1
    above = rows.min() == 0  # skin on the top row: a forehead cut off, or the chin and neck of a face above the image
    read_out = eye - FOREHEAD_BAND_M[1] * rows_per_m < 0.0 or eye + LOWER_FACE_BAND_M[1] * rows_per_m > ROWS
    near_guard = bool((dilate8(mine) & (guard != 0)).any())
    out[O_EDGE] = float(sideways or above or read_out or near_guard)


def face_measure(image: np.ndarray, bgnow: np.ndarray, skin: np.ndarray, hot_near: np.ndarray,
                 guard: np.ndarray, faces: np.ndarray, f: int, p: np.ndarray, ambient: float,
                 widths: np.ndarray, sights: np.ndarray, heights: np.ndarray, out: np.ndarray) -> None:
    """Measure face ``f`` into ``out``: temperatures, width, distance, box, eye line, cues."""
    mine = (faces == f) & (skin != 0)
    hot_row = face_temperatures(image, mine, hot_near, int(p[P_TOPK]), out)
    tref = out[O_SKIN]
    rows, cols = np.nonzero(mine)
    r0, r1, c0, c1 = int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())
    cover = coverage(image, bgnow, skin, hot_near, guard, faces, f, tref, p[P_MARGIN])
    width, centre = face_width(cover, r0, c0, r1, c1)
    out[O_WIDTH] = width
    out[O_DISTANCE] = interp(width, widths, sights) if width >= 1.0 else math.nan
    height = interp(width, widths, heights)
    rows_per_m = height / (2.0 * FACE_HALF_HEIGHT_M)
    cols_per_m = width / p[P_FACE_WIDTH]
    contrast = tref - ambient

    half = max(0.5, CENTRAL_HALF_WIDTH_M * cols_per_m)
    profile = row_profile(image, centre, half)
    lens = row_profile(image, centre, max(0.5, LENS_HALF_WIDTH_M * cols_per_m))
    band, drop = glasses_band(lens, r0, min(r1 - 1, r0 + math.ceil(EYE_SEARCH_M * rows_per_m)), r1)
    glasses = band >= 0.0 and drop >= p[P_GLASSES_DROP] * contrast
    out[O_GLASSES] = float(glasses)
    eye = band + 0.5 if glasses else eye_line(profile, hot_row)
    out[O_EYE_ROW] = eye
    out[O_EYE_LOW] = float(eye - r0 > EYE_LOW_M * rows_per_m)

    out[O_FOREHEAD] = forehead(image, mine, eye, rows_per_m, centre, half)
    probe = band_mean(profile, eye - COVER_BAND_M[1] * rows_per_m, eye - COVER_BAND_M[0] * rows_per_m)
    out[O_COVERED] = float(tref - probe >= p[P_COVER_DROP] * contrast)
    nose = nose_drop(image, eye + NOSE_BELOW_M * rows_per_m, centre, CHEEK_OFFSET_M * cols_per_m)
    out[O_NOSE] = nose
    out[O_COLD_NOSE] = float(nose >= max(NOSE_MIN_DROP_C, p[P_NOSE_DROP] * contrast))
    bottom = eye + LOWER_FACE_BAND_M[1] * rows_per_m
    out[O_LOWER] = (band_mean(profile, eye + LOWER_FACE_BAND_M[0] * rows_per_m, bottom)
                    if bottom <= profile.shape[0] else math.nan)
    face_box(mine, guard, eye, height, centre, width, out)


def update_background(image: np.ndarray, bg: np.ndarray, busy: np.ndarray, frames: float, p: np.ndarray) -> None:
    """Move ``bg`` towards this frame (in place): coolest reading while bootstrapping, then clipped steps."""
    if frames < p[P_BOOTSTRAP]:
        bg[:] = image if frames == 0 else np.minimum(bg, image)
        return
    alpha = np.where(busy != 0, p[P_ABSORB_ALPHA], p[P_ALPHA])
    bg += alpha * np.clip(image - bg, -p[P_MARGIN], p[P_MARGIN])


def block_trend(blocks: np.ndarray, mean: float) -> float:
    """The straight line's rise over the window through its block means, oldest first (the kernel's block_trend)."""
    x = np.arange(blocks.size) - (blocks.size - 1) / 2.0
    return float((x * (blocks - mean)).sum() / (x * x).sum() * (blocks.size - 1))


def trend_allowance(stable_c: float, noise: float, n: int) -> float:
    """The rise a steady reference's ``n`` block means may show (the kernel's trend_allowance)."""
    return (n - 1) * max(stable_c / math.sqrt(n * (n + 1) / 12.0),
                         STEADY_Z * math.sqrt(noise / (n * (n * n - 1) / 12.0)))


def steady_allowance(stable_c: float, noise: float) -> float:
    """The slow variation a steady reference may show over its window (the kernel's steady_allowance)."""
    return math.sqrt(max(stable_c * stable_c, STEADY_Z * math.sqrt(2.0 / (BLOCKS - 1)) * noise))


def _unmixed_drift(mean: float, background: float, learned: float, learned_background: float,
                   set_point: float) -> float:
    """The sensor's drift since the reading was learned (the kernel's unmixed_drift)."""
    if math.isnan(learned_background):
        return mean - learned
    kelvin = 273.15
    wall, read = learned_background + kelvin, learned + kelvin
    share = float(np.clip((read ** 4 - wall ** 4) / max((set_point + kelvin) ** 4 - wall ** 4, 1.0), 0.05, 1.0))
    k = min((1.0 - share) * (wall / read) ** 3, 0.95)
    return ((mean - learned) - k * (background - learned_background)) / (1.0 - k)


def reference_step(image: np.ndarray, bg: np.ndarray, guard: np.ndarray, shift: float, ambient: float,
                   p: np.ndarray, ref: np.ndarray, state: np.ndarray, out: np.ndarray) -> None:
    """The reference's reading, status and offset (see the kernel); updates ``ref`` and ``state``."""
    out[O_REF_OK], out[O_OFFSET], out[O_REF_STD] = 0.0, 0.0, math.nan
    out[[O_REF_MEAN, O_REF_BACKGROUND, O_REF_SIZE, O_REF_FRACTION]] = math.nan
    if p[P_REF_BOX] < 0:
        out[O_REF], out[O_REF_STATUS] = math.nan, REF_NONE
        return
    r0, c0, r1, c1 = (int(v) for v in p[P_REF_BOX:P_REF_BOX + 4])
    px = image[r0:r1, c0:c1].ravel()
    nbox = px.size
    means = ref[:nbox]
    if state[S_FRAMES] == 0:
        means[:] = px
    else:
        means += p[P_REF_ALPHA] * (px - means)
    pick = np.argsort(-means, kind="stable")[:min(int(p[P_REF_PIXELS]), nbox)]
    reading = float(px[pick].mean())
    out[O_REF] = reading

    window = int(p[P_REF_WINDOW])
    ring = ref[nbox:nbox + window]
    pos = int(state[S_RING_POS])
    ring[pos] = reading
    state[S_RING_POS] = (pos + 1) % window
    state[S_RING_COUNT] = min(state[S_RING_COUNT] + 1, window)
    ring_mask = guard == GUARD_RING
    n = int(ring_mask.sum())
    wall = ref[ref.size - n:]  # the ring's pixels' running means, at the end of ref
    if state[S_FRAMES] == 0:
        wall[:] = image[ring_mask]
    else:
        wall += max(1.0 / (state[S_FRAMES] + 1.0), 1.0 / window) * (image[ring_mask] - wall)
    state[S_WALL] = float(np.median(wall)) if n > 0 else ambient
    if state[S_RING_COUNT] < window:
        out[O_REF_STATUS] = REF_PENDING
        return
    recent = np.roll(ring, -int(state[S_RING_POS]))
    mean = recent.mean()
    per_block = window // BLOCKS
    blocks = recent.reshape(BLOCKS, per_block).mean(axis=1)
    spread = ((blocks - mean) ** 2).sum() / (BLOCKS - 1)
    noise = float(np.median((recent[2:] - recent[:-2]) ** 2)) / (2.0 * CHI2_1_MEDIAN * (per_block / SUBPAGES))
    excess = math.sqrt(max(spread - noise, 0.0))
    allowed = steady_allowance(p[P_REF_STABLE_C], noise)
    out[O_REF_STD], out[O_REF_MEAN], out[O_REF_ALLOWED] = excess, mean, allowed

    background = float(np.median(bg[ring_mask])) + shift if ring_mask.any() else ambient
    full = max(p[P_REF_C] - background, 0.1)
    out[O_REF_BACKGROUND] = background
    out[O_REF_SIZE] = np.maximum(means - background, 0.0).sum() / full
    fraction = (mean - background) / full
    out[O_REF_FRACTION] = fraction
    learned = p[P_REF_LEARNED]
    if mean - background < p[P_REF_MIN_CONTRAST]:
        status = REF_NOT_FOUND
    elif fraction < p[P_REF_MIN_FRACTION]:
        status = REF_TOO_SMALL
    elif math.isnan(learned):
        status = REF_NOT_LEARNED
    elif not excess < allowed or abs(block_trend(blocks, mean)) >= trend_allowance(p[P_REF_STABLE_C], noise, BLOCKS):
        status = REF_UNSTABLE
    elif abs(drift := _unmixed_drift(mean, background if state[S_FRAMES] >= p[P_BOOTSTRAP] + SETTLE_TAUS / p[P_ALPHA]
                                     else state[S_WALL], learned, p[P_REF_LEARNED_BG], p[P_REF_C])) > p[P_REF_DRIFT]:
        status = REF_DRIFT
    else:
        status = REF_OK
        out[O_REF_OK] = 1.0
        state[S_LAST_OK] = state[S_FRAMES]
        state[S_DRIFT_COUNT] += 1.0
        state[S_DRIFT] += max(1.0 / state[S_DRIFT_COUNT], p[P_REF_DRIFT_ALPHA]) * (drift - state[S_DRIFT])
        out[O_OFFSET] = -state[S_DRIFT]
    if (status in (REF_UNSTABLE, REF_NOT_FOUND, REF_TOO_SMALL) and state[S_DRIFT_COUNT] > 0
            and state[S_FRAMES] - state[S_LAST_OK] <= p[P_REF_HOLD]):
        status = REF_HELD
        out[O_REF_OK], out[O_OFFSET] = 1.0, -state[S_DRIFT]
    out[O_REF_STATUS] = status


def list_faces(counts: np.ndarray, boxes: np.ndarray, min_pixels: int, out: np.ndarray) -> None:
    """O_PEOPLE and the O_FACES list (largest first; the lower label on a tie)."""
    kept = [i for i in range(counts.size) if counts[i] >= min_pixels]
    out[O_PEOPLE] = len(kept)
    kept.sort(key=lambda i: (-counts[i], i))
    for slot in range(MAX_FACES):
        base = O_FACES + 5 * slot
        if slot < len(kept):
            i = kept[slot]
            out[base:base + 5] = counts[i], boxes[i, 0], boxes[i, 1], boxes[i, 2] + 1, boxes[i, 3] + 1
        else:
            out[base:base + 5] = 0.0, -1.0, -1.0, -1.0, -1.0


def analyze_frame(raw: np.ndarray, bg: np.ndarray, busy: np.ndarray, guard: np.ndarray, ref: np.ndarray,
                  state: np.ndarray, p: np.ndarray, tables: np.ndarray, out: np.ndarray) -> None:
    """One frame, every step in order, as the kernel of the same name (state updated in place)."""
    out[:O_LENGTH] = math.nan
    frames = state[S_FRAMES]
    image = finite_frame(raw, bg, frames == 0)
    shift = background_shift(image, bg, busy, guard, 2.0 * p[P_MARGIN])
    if frames <= p[P_BOOTSTRAP] or frames % AMBIENT_EVERY == 0:
        state[S_BG_MEDIAN] = background_median(bg, guard)
    ambient = state[S_BG_MEDIAN] + shift
    bgnow = bg + shift
    out[O_AMBIENT], out[O_SHIFT] = ambient, shift

    labels, sizes, hot_near, skin, _, hot = skin_pixels(image, bgnow, guard, p, ambient)
    out[O_HOT] = float(hot)
    largest_warm(labels, sizes, out)
    closed = close_columns(skin)
    faces, nfaces = label(closed, False)
    faces, counts, boxes = merge_below(skin, labels, faces, nfaces)
    list_faces(counts, boxes, int(p[P_MIN_FACE_PX]), out)
    if out[O_PEOPLE] > 0:
        main = int(np.argmax(counts))
        face_measure(image, bgnow, skin, hot_near, guard, faces, main + 1, p, ambient, tables[0], tables[1],
                     tables[2], out)
    else:
        out[O_BOX:O_BOX + 4] = -1.0
        out[O_WIDTH] = out[O_FACE_PIXELS] = out[O_EDGE] = out[O_IN_VIEW] = 0.0
        out[O_GLASSES] = out[O_COVERED] = out[O_COLD_NOSE] = out[O_EYE_LOW] = 0.0

    big = np.concatenate([[False], sizes >= 2])[labels]
    busy[:] = dilate8(big)
    update_background(image, bg, busy, frames, p)
    reference_step(image, bg, guard, shift, ambient, p, ref, state, out)
    state[S_FRAMES] = frames + 1
