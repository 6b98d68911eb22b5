"""numba kernels: one full temperature frame to a scene analysis.

:mod:`controller.screening.analysis` keeps the state and the configuration;
everything per frame happens in :func:`analyze_frame`, one call that runs the
steps below in order and writes its results into a float64 vector laid out by
the ``O_*`` indices. Configuration reaches the kernels as a float64 vector laid
out by the ``P_*`` indices, the per-gate state as a few contiguous arrays; no
Python object is touched inside the loops. Each step is a kernel of its own
(tests compare each with its plain-numpy version in
:mod:`controller.screening.analysis_reference`):

1. :func:`finite_frame`: a pixel that is not a finite number read as the
   background there; :func:`background_shift`: the frame's common offset against the background
   model (median of image - background over pixels nobody was near), and
   :func:`background_median`: the room's temperature;
2. :func:`skin_pixels`: warm pixels (above background + margin), their
   connected components, hot pixels and their neighbours, and the skin-like
   pixels of components hot enough to hold a face;
3. :func:`close_columns` and :func:`label`: skin separated by a band of at most
   two rows (glasses, a cool nose) joined into one face, faces labelled;
   :func:`face_table` and :func:`merge_below`: each face's size and box, a neck
   below a mask joined to its face;
4. :func:`face_measure`: the main (largest) face's temperatures, width,
   distance, box and cues;
5. :func:`update_background`: the background model follows the room where
   nobody is;
6. :func:`reference_step`: the reference source's reading and stability.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from controller.geometry import FACE_HALF_HEIGHT_M  # the face runs this far above and below the eyes
from controller.sensor.frame import COLUMNS, PIXELS, ROWS  # noqa: F401 -- the array's shape, also as K.ROWS

CENTRAL_HALF_WIDTH_M = 0.035  # the middle of the face: this far either side of its centre line
FOREHEAD_BAND_M = (0.02, 0.06)  # the forehead: this far above the eye line
COVER_BAND_M = (0.035, 0.06)  # the hat/hair probe: this far above the eye line (hats reach 3.4 cm)
LENS_HALF_WIDTH_M = 0.055  # glasses cover the face this far either side of its centre line
EYE_SEARCH_M = 0.09  # glasses are looked for down to this far below the top of the skin
# An eye line further than this below the top of the skin is not at the eyes: a bare forehead reaches 7 cm above
# them, a fringe or a hat less, so the hottest row is the mouth or the neck, under an eye band that glasses the
# cue missed or a fringe keep cool (O_EYE_LOW). Over DEV's first 30 runs, standing frames of one face not at the
# image's edge, it flags 91 % of the eye lines more than 1.5 rows below the eyes, and 4.2 % (110 degree lens) and
# 2.6 % (55) of those within 1.5 rows of them (docs/estimation.md, "An eye line below the eyes").
EYE_LOW_M = 0.10
BLOCKS = 8  # the reference's window is split into this many blocks for its stability test
# A full frame is the latest two subpages merged: each pixel is measured in every other frame, so a block of the
# window holds per_block / SUBPAGES independent readings of it (its mean's noise is the reading's over that many).
SUBPAGES = 2
# Steady, the window's blocks still spread by chance: their variance, over BLOCKS - 1 degrees of freedom, has a
# standard error of sqrt(2 / (BLOCKS - 1)) times the noise's share of it, and the straight line through them rises or
# falls by chance too. A reference is unsteady when its slow variation beyond the noise (O_REF_STD) reaches the
# configured limit or, where the noise makes that larger, STEADY_Z standard errors of the spread; or when the line
# through its blocks rises or falls over the window by the limit or STEADY_Z standard errors of that rise (a disc
# warming up or cooling down). On a steady disc read through 0.3-0.62 degC of noise a reading, chance then calls
# 6-7 % of the windows unsteady, all of them held (the reference stays ok), and none not ok; the limit alone called
# 9-24 % unsteady (tests/test_reference_stability.py, docs/estimation.md). A quiet sensor keeps the configured limit.
STEADY_Z = 3.0
# The noise is read from the differences between readings two frames apart (the same subpage), robustly: the median
# of their squares over that of a chi-square with one degree of freedom (0.4549), so that a hand passing in front of
# the disc for a few frames lifts the spread of the blocks, not the noise it is judged against.
CHI2_1_MEDIAN = 0.454936
MAX_FACES = 8  # faces listed in the output
AMBIENT_EVERY = 8  # frames between refreshes of the background's median (it changes slowly)
SHIFT_BIN_C = 0.02  # histogram bin of the frame's common offset
NOSE_BELOW_M = 0.037  # the nose's middle: this far below the eye line (it runs from 1.8 to 5.5 cm below)
CHEEK_OFFSET_M = 0.045  # the cheeks either side of the nose: this far from the face's centre line
NOSE_MIN_DROP_C = 0.6  # a chilled nose reads at least this much under the cheeks (a normal nose: about 0.5)
LOWER_FACE_BAND_M = (0.03, 0.07)  # the lower face (the nose and the cheeks beside it, or a mask): this far below the
# eye line, over the face's middle (CENTRAL_HALF_WIDTH_M either side of its centre line)

# Parameter vector.
P_MARGIN = 0
P_HOT_C = 1
P_SKIN_FRACTION = 2
P_FACE_MIN_C = 3
P_FACE_CONTRAST = 4
P_TOPK = 5
P_MIN_FACE_PX = 6
P_FACE_WIDTH = 7
P_ALPHA = 8
P_ABSORB_ALPHA = 9
P_BOOTSTRAP = 10
P_GLASSES_DROP = 11
P_COVER_DROP = 12
P_REF_BOX = 13  # 4 values: r0, c0, r1, c1 (exclusive); r0 < 0 when no reference is configured
P_REF_C = 17
P_REF_PIXELS = 18
P_REF_DRIFT = 19  # the window's mean further than this from the learned reading: drift
P_REF_WINDOW = 20
P_REF_STABLE_C = 21
P_REF_ALPHA = 22
P_GUARD = 23
P_NOSE_DROP = 24
P_REF_LEARNED = 25  # the reference's apparent reading learned through this gate's optics; NaN: not learned
P_REF_MIN_FRACTION = 26  # too small: the reading reaches less than this share of its set-point contrast
P_REF_MIN_CONTRAST = 27  # not found: the reading is less than this above the background around the box
P_REF_LEARNED_BG = 28  # the background around the box when the reading was learned; NaN: not known (no unmixing)
P_REF_DRIFT_ALPHA = 29  # the offset is the drift averaged with this weight per frame (1 / its time constant)
P_REF_HOLD = 30  # frames after its last ok one that an unsteady, hidden or shrunken reference is held
P_REF_RING = 31  # the guard's pixels around the box (GUARD_RING): the wall the reading is unmixed from
P_LENGTH = 32

# The guard mask: 0 outside it, GUARD_BOX on the reference's box, GUARD_RING on the guard around the box.
GUARD_BOX = 1
GUARD_RING = 2

# State vector.
S_FRAMES = 0
S_RING_POS = 1
S_RING_COUNT = 2
S_BG_MEDIAN = 3  # median of the background model, refreshed every AMBIENT_EVERY frames
S_DRIFT = 4  # the reference's drift averaged over the ok windows (the offset is minus it)
S_DRIFT_COUNT = 5  # ok windows in that average so far (its weight is 1 / count until 1 / count < P_REF_DRIFT_ALPHA)
S_LAST_OK = 6  # the frame (S_FRAMES) whose reference was last ok
S_WALL = 7  # the wall around the reference as the frames show it: its ring's pixels' running means' median
S_LENGTH = 8

# Output vector.
O_AMBIENT = 0
O_SHIFT = 1
O_PEOPLE = 2
O_BOX = 3  # 4 values, -1 when there is no face
O_WIDTH = 7
O_DISTANCE = 8
O_MAX = 9
O_TOPK = 10
O_FOREHEAD = 11
O_EDGE = 12
O_GLASSES = 13
O_COVERED = 14
O_HOT = 15
O_REF = 16
O_REF_OK = 17
O_OFFSET = 18
O_REF_STD = 19
O_FACE_PIXELS = 20
O_SKIN = 21
O_EYE_ROW = 22
O_FACES = 23  # MAX_FACES x (skin pixels, r0, c0, r1, c1 exclusive), largest first
O_NOSE = O_FACES + 5 * MAX_FACES  # the main face's nose, under the cheeks either side (degC)
O_COLD_NOSE = O_NOSE + 1  # cue: the nose is chilled (just in from the cold)
O_REF_STATUS = O_COLD_NOSE + 1  # one of the REF_* codes below
O_REF_MEAN = O_REF_STATUS + 1  # the reference's mean reading over its window (NaN until it is full)
O_REF_BACKGROUND = O_REF_MEAN + 1  # the background around the reference's box (median of the guard ring)
O_REF_SIZE = O_REF_BACKGROUND + 1  # the reference's apparent area in whole pixels of full set-point contrast
O_REF_FRACTION = O_REF_SIZE + 1  # the share of its set-point contrast the window's mean reading reaches
O_WARM = O_REF_FRACTION + 1  # pixels of the largest warm component (a person, with or without a face found); 0: none
O_WARM_BOX = O_WARM + 1  # its bounding box: 4 values, r0, c0, r1, c1 (exclusive), -1 when there is none
O_LOWER = O_WARM_BOX + 4  # the main face's lower face (LOWER_FACE_BAND_M, its middle), degC; NaN: out of view
O_IN_VIEW = O_LOWER + 1  # the share of the main face's height (its box's rows) inside the image: 1.0 when whole
O_EYE_LOW = O_IN_VIEW + 1  # cue: the eye line lies more than EYE_LOW_M below the top of the face's skin
O_REF_ALLOWED = O_EYE_LOW + 1  # the slow variation (O_REF_STD) the window's noise lets a steady reference show
O_LENGTH = O_REF_ALLOWED + 1

# The reference's status (O_REF_STATUS), in the order the checks are made.
REF_NONE = 0  # no reference configured
REF_PENDING = 1  # its window is not full yet
REF_NOT_FOUND = 2  # it reads less than P_REF_MIN_CONTRAST above the background around it
REF_TOO_SMALL = 3  # it reaches less than P_REF_MIN_FRACTION of its set-point contrast: too few pixels
REF_NOT_LEARNED = 4  # its apparent reading through this gate's optics was never learned
REF_UNSTABLE = 5  # its block means vary beyond what pixel noise explains
REF_DRIFT = 6  # the drift it shows is more than P_REF_DRIFT
REF_OK = 7
REF_HELD = 8  # unstable, not found or too small within P_REF_HOLD frames of an ok one: the averaged drift is kept

_NAN = math.nan
KELVIN = 273.15
SETTLE_TAUS = 3.0  # the background model is settled after its bootstrap and this many time constants


# ---- building blocks -------------------------------------------------------------------------------------------

@njit(cache=True, error_model="numpy")
def _select(buf, n, k):
    """The k-th smallest of buf[:n] (0-based); reorders buf[:n] so that buf[:k] <= buf[k] <= buf[k+1:n]."""
    lo = 0
    hi = n - 1
    while hi > lo:
        mid = (lo + hi) // 2
        if buf[mid] < buf[lo]:
            buf[mid], buf[lo] = buf[lo], buf[mid]
        if buf[hi] < buf[lo]:
            buf[hi], buf[lo] = buf[lo], buf[hi]
        if buf[hi] < buf[mid]:
            buf[hi], buf[mid] = buf[mid], buf[hi]
        pivot = buf[mid]
        i = lo
        j = hi
        while i <= j:
            while buf[i] < pivot:
                i += 1
            while buf[j] > pivot:
                j -= 1
            if i <= j:
                buf[i], buf[j] = buf[j], buf[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return buf[k]


@njit(cache=True, error_model="numpy")
def median_of(buf, n):
    """Median of buf[:n] (the mean of the two middle values when n is even); reorders buf. NaN if n == 0."""
    if n == 0:
        return _NAN
    upper = _select(buf, n, n // 2)
    if n % 2 == 1:
        return upper
    lower = buf[0]
    for i in range(1, n // 2):
        if buf[i] > lower:
            lower = buf[i]
    return (lower + upper) / 2.0


@njit(cache=True, error_model="numpy")
def label(mask, eight, labels, queue):
    """Connected components of the uint8 ``mask``, written into int32 ``labels`` (0 = background).

    Labels run 1..n in raster order of each component's first pixel; ``eight``
    selects 8-connectivity, else 4. ``queue`` is int32 scratch of one entry per
    pixel. Returns n."""
    rows, cols = mask.shape
    for r in range(rows):
        for c in range(cols):
            labels[r, c] = 0
    n = 0
    for r in range(rows):
        for c in range(cols):
            if mask[r, c] == 0 or labels[r, c] != 0:
                continue
            n += 1
            labels[r, c] = n
            head = 0
            tail = 1
            queue[0] = r * cols + c
            while head < tail:
                q = queue[head]
                head += 1
                qr = q // cols
                qc = q - qr * cols
                for dr in range(-1, 2):
                    for dc in range(-1, 2):
                        if dr == 0 and dc == 0:
                            continue
                        if not eight and dr != 0 and dc != 0:
                            continue
                        rr = qr + dr
                        cc = qc + dc
                        if 0 <= rr < rows and 0 <= cc < cols and mask[rr, cc] != 0 and labels[rr, cc] == 0:
                            labels[rr, cc] = n
                            queue[tail] = rr * cols + cc
                            tail += 1
    return n


@njit(cache=True, error_model="numpy")
def dilate8(mask, out):
    """``out`` = 0/1 uint8 ``mask`` grown by one pixel in all eight directions (``out`` must not be ``mask``).

    Done as a dilation along the rows, then one along the columns."""
    rows, cols = mask.shape
    for r in range(rows):
        for c in range(cols):
            v = mask[r, c]
            if c > 0:
                v |= mask[r, c - 1]
            if c < cols - 1:
                v |= mask[r, c + 1]
            out[r, c] = v
    above = np.zeros(cols, dtype=np.uint8)
    for r in range(rows):
        for c in range(cols):
            here = out[r, c]
            v = here | above[c]
            if r < rows - 1:
                v |= out[r + 1, c]
            above[c] = here
            out[r, c] = v


@njit(cache=True, error_model="numpy")
def close_columns(skin, out):
    """``out`` = 0/1 uint8 ``skin`` with vertical gaps of up to two rows filled where skin lies both above and below."""
    rows, cols = skin.shape
    for r in range(rows):
        for c in range(cols):
            v = skin[r, c]
            if v == 0 and r > 0 and r < rows - 1:
                up1 = skin[r - 1, c]
                down1 = skin[r + 1, c]
                up2 = skin[r - 2, c] if r > 1 else 0
                down2 = skin[r + 2, c] if r < rows - 2 else 0
                v = (up1 & (down1 | down2)) | (up2 & down1)
            out[r, c] = v


@njit(cache=True, error_model="numpy")
def interp(x, xp, fp):
    """Linear interpolation in a table with increasing ``xp``, clamped at its ends (as numpy.interp)."""
    n = xp.shape[0]
    if x <= xp[0]:
        return fp[0]
    if x >= xp[n - 1]:
        return fp[n - 1]
    lo = 0
    hi = n - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if xp[mid] <= x:
            lo = mid
        else:
            hi = mid
    slope = (fp[hi] - fp[lo]) / (xp[hi] - xp[lo])
    return slope * (x - xp[lo]) + fp[lo]


# ---- the frame, step by step -----------------------------------------------------------------------------------

@njit(cache=True, error_model="numpy")
def finite_frame(raw, bg, first, image):
    """``image`` = ``raw`` with each pixel that is not a finite number read as the background there.

    On the ``first`` frame there is no background yet: such pixels take the
    median of the finite ones (0 if there are none), and the result becomes
    the background model."""
    rows, cols = raw.shape
    if first:
        buf = np.empty(rows * cols)
        n = 0
        for r in range(rows):
            for c in range(cols):
                if math.isfinite(raw[r, c]):
                    buf[n] = raw[r, c]
                    n += 1
        fill = median_of(buf, n) if n > 0 else 0.0
        for r in range(rows):
            for c in range(cols):
                v = raw[r, c]
                image[r, c] = v if math.isfinite(v) else fill
                bg[r, c] = image[r, c]
        return
    for r in range(rows):
        for c in range(cols):
            v = raw[r, c]
            image[r, c] = v if math.isfinite(v) else bg[r, c]


@njit(cache=True, error_model="numpy")
def background_shift(image, bg, busy, guard, reach):
    """Common offset of this frame against the background model: the median of image - bg over idle
    pixels, read from a histogram of SHIFT_BIN_C bins spanning +-``reach`` (values beyond go in the
    end bins) and interpolated within its bin.

    Idle: neither ``busy`` (near a person in the previous frame) nor in the
    reference's ``guard``; if no pixel is idle, every unguarded one counts;
    0 if there is none. The median ignores the warm fringe around people and
    stray garbage pixels."""
    rows, cols = image.shape
    nbins = int(math.ceil(2.0 * reach / SHIFT_BIN_C))
    hist = np.zeros(nbins)
    n = 0
    for attempt in range(2):
        for r in range(rows):
            for c in range(cols):
                if guard[r, c] == 0 and (attempt == 1 or busy[r, c] == 0):
                    k = int(math.floor((image[r, c] - bg[r, c] + reach) / SHIFT_BIN_C))
                    hist[min(max(k, 0), nbins - 1)] += 1.0
                    n += 1
        if n > 0:
            break
    if n == 0:
        return 0.0
    half = n / 2.0
    below = 0.0
    for k in range(nbins):
        if below + hist[k] >= half:
            return -reach + SHIFT_BIN_C * (k + (half - below) / hist[k])
        below += hist[k]
    return reach


@njit(cache=True, error_model="numpy")
def background_median(bg, guard):
    """Median of the background model over the pixels outside the reference's guard."""
    rows, cols = bg.shape
    buf = np.empty(rows * cols)
    n = 0
    for r in range(rows):
        for c in range(cols):
            if guard[r, c] == 0:
                buf[n] = bg[r, c]
                n += 1
    return median_of(buf, n)


@njit(cache=True, error_model="numpy")
def skin_pixels(image, bgnow, guard, p, ambient, labels, sizes, hot_near, skin, work, queue):
    """Warm components, the hot pixels' neighbourhood and the skin mask.

    Writes ``labels`` (int32, warm components, 8-connected), ``sizes`` (int64,
    pixels per component; index label - 1), ``hot_near`` and ``skin`` (uint8).
    ``work`` is uint8 scratch of the image's shape. Returns (number of
    components, hot object seen).

    A pixel is warm when it is above the background by the person margin
    (the reference's guard excepted). Components of one pixel are noise.
    A hot pixel is above the hot-object temperature; it and its eight
    neighbours (the mixed pixels around a cup) are never skin. A component can
    hold a face when its hottest remaining pixel reaches both the face minimum
    and the ambient plus the face contrast, and the skin fraction of the way
    from the ambient to the warmest such peak of the frame; its skin pixels are
    those at least the skin fraction of the way from the background to its peak.
    """
    rows, cols = image.shape
    margin = p[P_MARGIN]
    for r in range(rows):
        for c in range(cols):
            work[r, c] = 1 if (image[r, c] > bgnow[r, c] + margin and guard[r, c] == 0) else 0
    n = label(work, True, labels, queue)
    for i in range(n):
        sizes[i] = 0
    for r in range(rows):
        for c in range(cols):
            if labels[r, c] > 0:
                sizes[labels[r, c] - 1] += 1
    hot = False
    hot_c = p[P_HOT_C]
    for r in range(rows):
        for c in range(cols):
            lab = labels[r, c]
            is_hot = lab > 0 and sizes[lab - 1] >= 2 and image[r, c] > hot_c
            work[r, c] = 1 if is_hot else 0
            if is_hot:
                hot = True
    dilate8(work, hot_near)
    peaks = np.full(n, -np.inf)
    for r in range(rows):
        for c in range(cols):
            lab = labels[r, c]
            if lab > 0 and sizes[lab - 1] >= 2 and hot_near[r, c] == 0 and image[r, c] > peaks[lab - 1]:
                peaks[lab - 1] = image[r, c]
    floor_c = max(p[P_FACE_MIN_C], ambient + p[P_FACE_CONTRAST])
    fraction = p[P_SKIN_FRACTION]
    # A component whose hottest pixel is not skin by the warmest face's own cut holds no face: it is a torso's
    # clothing, an arm or hair, which reach the floor in a warm room (docs/estimation.md, "Clothing is not a face").
    top = -np.inf
    for i in range(n):
        if peaks[i] >= floor_c and peaks[i] > top:
            top = peaks[i]
    for i in range(n):
        if peaks[i] >= floor_c and peaks[i] < ambient + fraction * (top - ambient):
            peaks[i] = -np.inf
    for r in range(rows):
        for c in range(cols):
            lab = labels[r, c]
            v = 0
            if lab > 0 and sizes[lab - 1] >= 2 and hot_near[r, c] == 0:
                peak = peaks[lab - 1]
                b = bgnow[r, c]
                if peak >= floor_c and image[r, c] >= b + fraction * (peak - b):
                    v = 1
            skin[r, c] = v
    return n, hot


@njit(cache=True, error_model="numpy")
def face_table(skin, faces, n, counts, boxes):
    """Per face label 1..n (index label - 1): skin pixel count, and bounding box of its skin
    (r0, c0, r1, c1 inclusive) into int64 ``counts`` and ``boxes`` (n, 4)."""
    rows, cols = skin.shape
    for i in range(n):
        counts[i] = 0
        boxes[i, 0] = rows
        boxes[i, 1] = cols
        boxes[i, 2] = -1
        boxes[i, 3] = -1
    for r in range(rows):
        for c in range(cols):
            f = faces[r, c]
            if f > 0 and skin[r, c] != 0:
                i = f - 1
                counts[i] += 1
                boxes[i, 0] = min(boxes[i, 0], r)
                boxes[i, 1] = min(boxes[i, 1], c)
                boxes[i, 2] = max(boxes[i, 2], r)
                boxes[i, 3] = max(boxes[i, 3], c)


@njit(cache=True, error_model="numpy")
def merge_below(skin, warm, faces, n, counts, boxes):
    """Join to a face the skin blobs hanging below it: a neck under a mask, a chin under a scarf.

    A blob is joined to the largest face (more skin pixels; the lower label on
    a tie) of the same warm component that it lies wholly below, within that
    face's columns give or take one, and no further below it than the face's
    larger side. ``faces``, ``counts`` and ``boxes`` (as :func:`face_table` leaves
    them) are updated; a joined blob keeps its label with no pixels."""
    rows, cols = skin.shape
    home = np.zeros(n, dtype=np.int64)
    for r in range(rows):
        for c in range(cols):
            f = faces[r, c]
            if f > 0 and skin[r, c] != 0 and home[f - 1] == 0:
                home[f - 1] = warm[r, c]
    target = np.full(n, -1, dtype=np.int64)
    for b in range(n):
        if counts[b] == 0:
            continue
        best = -1
        for a in range(n):
            if a == b or counts[a] == 0 or home[a] != home[b]:
                continue
            if counts[a] < counts[b] or (counts[a] == counts[b] and a > b):
                continue
            size = max(boxes[a, 2] - boxes[a, 0], boxes[a, 3] - boxes[a, 1]) + 1
            below = boxes[b, 0] > boxes[a, 2] and boxes[b, 0] - boxes[a, 2] - 1 <= size
            inside = boxes[b, 1] >= boxes[a, 1] - 1 and boxes[b, 3] <= boxes[a, 3] + 1
            if below and inside and (best < 0 or counts[a] > counts[best]):
                best = a
        target[b] = best
    root = np.empty(n, dtype=np.int64)
    for b in range(n):
        a = b
        while target[a] >= 0:
            a = target[a]
        root[b] = a
    for r in range(rows):
        for c in range(cols):
            f = faces[r, c]
            if f > 0:
                faces[r, c] = root[f - 1] + 1
    face_table(skin, faces, n, counts, boxes)


@njit(cache=True, error_model="numpy")
def face_measure(image, bgnow, skin, hot_near, guard, faces, f, p, ambient, widths, sights, heights, out):
    """Measure face ``f`` (its skin pixels): temperatures, width, distance, box, eye line and cues, into ``out``.

    ``widths`` (increasing), ``sights`` and ``heights`` are the lens tables: a
    face width in pixels, the line-of-sight distance and the face height in
    rows that go with it.
    """
    rows = image.shape[0]
    _, hot_row, r0, c0, r1, c1 = _face_temperatures(image, skin, hot_near, faces, f, int(p[P_TOPK]), out)
    tref = out[O_SKIN]
    width, centre = _face_width(image, bgnow, skin, hot_near, guard, faces, f, tref, p[P_MARGIN], r0, c0, r1, c1)
    out[O_WIDTH] = width
    out[O_DISTANCE] = interp(width, widths, sights) if width >= 1.0 else _NAN
    height = interp(width, widths, heights)
    rows_per_m = height / (2.0 * FACE_HALF_HEIGHT_M)
    cols_per_m = width / p[P_FACE_WIDTH]
    contrast = tref - ambient

    half = max(0.5, CENTRAL_HALF_WIDTH_M * cols_per_m)
    profile = np.empty(rows)
    _row_profile(image, centre, half, profile)
    lens = np.empty(rows)
    _row_profile(image, centre, max(0.5, LENS_HALF_WIDTH_M * cols_per_m), lens)
    band, drop = _glasses_band(lens, r0, min(r1 - 1, r0 + int(math.ceil(EYE_SEARCH_M * rows_per_m))), r1)
    glasses = band >= 0.0 and drop >= p[P_GLASSES_DROP] * contrast
    out[O_GLASSES] = 1.0 if glasses else 0.0
    eye = band + 0.5 if glasses else _eye_line(profile, hot_row)
    out[O_EYE_ROW] = eye
    out[O_EYE_LOW] = 1.0 if eye - r0 > EYE_LOW_M * rows_per_m else 0.0

    out[O_FOREHEAD] = _forehead(image, skin, faces, f, eye, rows_per_m, centre, half)
    probe = _band_mean(profile, eye - COVER_BAND_M[1] * rows_per_m, eye - COVER_BAND_M[0] * rows_per_m)
    out[O_COVERED] = 1.0 if tref - probe >= p[P_COVER_DROP] * contrast else 0.0
    nose = _nose_drop(image, eye + NOSE_BELOW_M * rows_per_m, centre, CHEEK_OFFSET_M * cols_per_m)
    out[O_NOSE] = nose
    out[O_COLD_NOSE] = 1.0 if nose >= max(NOSE_MIN_DROP_C, p[P_NOSE_DROP] * contrast) else 0.0
    out[O_LOWER] = _lower_face(profile, eye, rows_per_m)
    _face_box(skin, guard, faces, f, eye, height, centre, width, r0, c0, r1, c1, out)


@njit(cache=True, error_model="numpy")
def _face_temperatures(image, skin, hot_near, faces, f, top_k, out):
    """O_FACE_PIXELS, O_MAX, O_TOPK and O_SKIN (the median) of face ``f``'s skin pixels. O_TOPK is the mean of the
    ``top_k`` skin pixels whose five-point mean reads hottest (:func:`_five_point`; ties to the first in raster
    order): chosen mostly by their neighbours, the pixels' own noise does little to choose them, and so little to
    lift the mean.

    Returns (pixels, row of the hottest, r0, c0, r1, c1 of the skin, inclusive)."""
    rows, cols = image.shape
    vals = np.empty(rows * cols)
    scores = np.empty(rows * cols)
    n = 0
    r0 = rows
    c0 = cols
    r1 = -1
    c1 = -1
    hottest = -np.inf
    hot_row = 0
    for r in range(rows):
        for c in range(cols):
            if faces[r, c] == f and skin[r, c] != 0:
                v = image[r, c]
                vals[n] = v
                scores[n] = _five_point(image, hot_near, r, c)
                n += 1
                r0 = min(r0, r)
                c0 = min(c0, c)
                r1 = max(r1, r)
                c1 = max(c1, c)
                if v > hottest:
                    hottest = v
                    hot_row = r
    k = min(top_k, n)
    total = 0.0
    for _ in range(k):
        best = -1
        for i in range(n):
            if scores[i] > -np.inf and (best < 0 or scores[i] > scores[best]):
                best = i
        total += vals[best]
        scores[best] = -np.inf
    vals[:n].sort()
    out[O_FACE_PIXELS] = n
    out[O_MAX] = hottest
    out[O_TOPK] = total / k
    out[O_SKIN] = vals[n // 2] if n % 2 == 1 else (vals[n // 2 - 1] + vals[n // 2]) / 2.0
    return n, hot_row, r0, c0, r1, c1


@njit(cache=True, error_model="numpy", inline="always")
def _five_point(image, hot_near, r, c):
    """The mean of pixel (r, c) and its four neighbours, the pixel itself standing in for a neighbour beyond the
    image or near a hot object (a cup's warmth is not the face's)."""
    rows, cols = image.shape
    own = image[r, c]
    total = image[r - 1, c] if r > 0 and hot_near[r - 1, c] == 0 else own
    total += image[r + 1, c] if r + 1 < rows and hot_near[r + 1, c] == 0 else own
    total += image[r, c - 1] if c > 0 and hot_near[r, c - 1] == 0 else own
    total += image[r, c + 1] if c + 1 < cols and hot_near[r, c + 1] == 0 else own
    return (own + total) / 5.0


@njit(cache=True, error_model="numpy")
def _face_width(image, bgnow, skin, hot_near, guard, faces, f, tref, margin, r0, c0, r1, c1):
    """(width in pixels, centre column) of face ``f``: the widest row of coverage within its skin's rows,
    over its skin's columns and one more either side; (1, the skin's middle) if it covers nothing."""
    cols = image.shape[1]
    ca = max(0, c0 - 1)
    cb = min(cols - 1, c1 + 1)
    width = -1.0
    wide_row = r0
    for r in range(r0, r1 + 1):
        w = 0.0
        for c in range(ca, cb + 1):
            w += _cover(image, bgnow, skin, hot_near, guard, faces, f, tref, margin, r, c)
        if w > width:
            width = w
            wide_row = r
    if width <= 0.0:
        return 1.0, (c0 + c1 + 1) / 2.0
    moment = 0.0
    for c in range(ca, cb + 1):
        moment += (c + 0.5) * _cover(image, bgnow, skin, hot_near, guard, faces, f, tref, margin, wide_row, c)
    return width, moment / width


@njit(cache=True, error_model="numpy", inline="always")
def _cover(image, bgnow, skin, hot_near, guard, faces, f, tref, margin, r, c):
    """How much of pixel (r, c) face ``f`` covers, 0..1: its place between the background and ``tref``
    (0 for other faces' skin, hot or guarded pixels, and where ``tref`` is within the margin of the background)."""
    b = bgnow[r, c]
    denom = tref - b
    if denom <= margin or hot_near[r, c] != 0 or guard[r, c] != 0:
        return 0.0
    if skin[r, c] != 0 and faces[r, c] != f:
        return 0.0
    x = (image[r, c] - b) / denom
    return min(max(x, 0.0), 1.0)


@njit(cache=True, error_model="numpy", inline="always")
def _row_profile(image, centre, half, profile):
    """Mean of each row over the columns whose centres lie within ``half`` of ``centre``
    (the column holding ``centre`` if none does)."""
    rows, cols = image.shape
    n = 0
    for r in range(rows):
        profile[r] = 0.0
    for c in range(cols):
        if abs(c + 0.5 - centre) <= half:
            n += 1
            for r in range(rows):
                profile[r] += image[r, c]
    if n > 0:
        for r in range(rows):
            profile[r] /= n
    else:
        cmid = min(max(int(centre), 0), cols - 1)
        for r in range(rows):
            profile[r] = image[r, cmid]


@njit(cache=True, error_model="numpy", inline="always")
def _glasses_band(lens, r0, last_start, r1):
    """The coolest band of one or two rows starting between r0 + 1 and ``last_start``, with rows on both
    sides within r0..r1: (its centre row, how much cooler it is than the cooler of the rows either side);
    (-1, -inf) if there is no such band."""
    best = -np.inf
    band = -1.0
    for b in range(r0 + 1, last_start + 1):
        for t in range(1, 3):
            if b + t > r1:
                continue
            inside = lens[b] if t == 1 else (lens[b] + lens[b + 1]) / 2.0
            drop = min(lens[b - 1], lens[b + t]) - inside
            if drop > best:
                best = drop
                band = b + (t - 1) / 2.0
    return band, best


@njit(cache=True, error_model="numpy", inline="always")
def _eye_line(profile, row):
    """The eye line (continuous row) near ``row``, the hottest row: the vertex of a parabola through the profile."""
    eye = row + 0.5
    if 0 < row < profile.shape[0] - 1:
        a = profile[row - 1]
        b = profile[row]
        c = profile[row + 1]
        curvature = a - 2.0 * b + c
        if curvature < 0.0:
            eye += min(max(0.5 * (a - c) / curvature, -0.5), 0.5)
    return eye


@njit(cache=True, error_model="numpy")
def _forehead(image, skin, faces, f, eye, rows_per_m, centre, half):
    """Mean of face ``f``'s skin pixels FOREHEAD_BAND_M above the eye line, within ``half`` columns of
    ``centre``: rows whose centres lie in the band, or the row holding its middle; NaN if none is skin."""
    rows, cols = image.shape
    top = eye - FOREHEAD_BAND_M[1] * rows_per_m
    bottom = eye - FOREHEAD_BAND_M[0] * rows_per_m
    first = rows
    last = -1
    for r in range(rows):
        if top <= r + 0.5 <= bottom:
            first = min(first, r)
            last = max(last, r)
    if last < 0:
        first = min(max(int(math.floor((top + bottom) / 2.0)), 0), rows - 1)
        last = first
    total = 0.0
    n = 0
    for r in range(first, last + 1):
        for c in range(cols):
            if abs(c + 0.5 - centre) <= half and faces[r, c] == f and skin[r, c] != 0:
                total += image[r, c]
                n += 1
    return total / n if n > 0 else _NAN


@njit(cache=True, error_model="numpy", inline="always")
def _row_at(image, r, x):
    """Row ``r`` of ``image`` at continuous column ``x``: linear between pixel centres (c + 0.5), clamped."""
    cols = image.shape[1]
    u = min(max(x - 0.5, 0.0), cols - 1.0)
    i = min(int(math.floor(u)), cols - 2)
    w = u - i
    return (1.0 - w) * image[r, i] + w * image[r, i + 1]


@njit(cache=True, error_model="numpy")
def _nose_drop(image, nose_row, centre, offset):
    """How much cooler the nose is than the cheeks either side: on the row holding ``nose_row`` (clamped to
    the image), the mean at ``centre`` -+ ``offset`` columns minus the value at ``centre``."""
    r = min(max(int(math.floor(nose_row)), 0), image.shape[0] - 1)
    return (_row_at(image, r, centre - offset) + _row_at(image, r, centre + offset)) / 2.0 - _row_at(image, r, centre)


@njit(cache=True, error_model="numpy", inline="always")
def _lower_face(profile, eye, rows_per_m):
    """O_LOWER: the central row profile's mean over LOWER_FACE_BAND_M below the eye line; NaN where that band
    runs past the image's bottom (a face cut off there)."""
    bottom = eye + LOWER_FACE_BAND_M[1] * rows_per_m
    if bottom > profile.shape[0]:
        return _NAN
    return _band_mean(profile, eye + LOWER_FACE_BAND_M[0] * rows_per_m, bottom)


@njit(cache=True, error_model="numpy", inline="always")
def _band_mean(profile, top, bottom):
    """Mean of ``profile`` over the continuous rows [top, bottom], each row weighted by its overlap; NaN if none."""
    total = 0.0
    weight = 0.0
    for r in range(max(0, int(math.floor(top))), min(profile.shape[0], int(math.ceil(bottom)))):
        w = min(r + 1.0, bottom) - max(float(r), top)
        if w > 0.0:
            total += w * profile[r]
            weight += w
    return total / weight if weight > 0.0 else _NAN


@njit(cache=True, error_model="numpy")
def _face_box(skin, guard, faces, f, eye, height, centre, width, r0, c0, r1, c1, out):
    """O_BOX: ``height`` rows centred on the eye line by ``width`` columns centred on ``centre``, clipped to the
    image; O_IN_VIEW: the share of those rows inside the image. O_EDGE: the face is not in view as far as it is
    measured: the box reaches past the image's left or right, or the skin (r0..r1, c0..c1) touches the left or
    right border or the guard, or the skin touches the top row, or what is read of the face, from the top of the
    forehead band (FOREHEAD_BAND_M) to the bottom of the lower face's (LOWER_FACE_BAND_M), runs past the top or
    the bottom. Skin on the top row runs on above the image: a forehead cut off, whose eye line the profile
    misplaces, or the chin and neck of a face wholly above the image, which look like a face. A face cut off
    only below the nose (a child's chin under a camera mounted for adults; the neck below a face is skin, the
    hair above it is not) is measured: its eye band and every cue are in view."""
    rows, cols = skin.shape
    b0 = int(math.floor(eye - height / 2.0))
    b1 = int(math.ceil(eye + height / 2.0))
    a0 = int(math.floor(centre - width / 2.0))
    a1 = int(math.ceil(centre + width / 2.0))
    out[O_BOX] = max(b0, 0)
    out[O_BOX + 1] = max(a0, 0)
    out[O_BOX + 2] = min(b1, rows)
    out[O_BOX + 3] = min(a1, cols)
    top = eye - height / 2.0
    out[O_IN_VIEW] = (min(top + height, float(rows)) - max(top, 0.0)) / height if height > 0.0 else 0.0
    rows_per_m = height / (2.0 * FACE_HALF_HEIGHT_M)
    read_out = eye - FOREHEAD_BAND_M[1] * rows_per_m < 0.0 or eye + LOWER_FACE_BAND_M[1] * rows_per_m > rows
    edge = a0 < 0 or a1 > cols or c0 == 0 or c1 == cols - 1 or r0 == 0 or read_out
    if not edge:
        for r in range(max(0, r0 - 1), min(rows, r1 + 2)):
            for c in range(max(0, c0 - 1), min(cols, c1 + 2)):
                if guard[r, c] != 0 and _touches_face(skin, faces, f, r, c):
                    edge = True
    out[O_EDGE] = 1.0 if edge else 0.0


@njit(cache=True, error_model="numpy", inline="always")
def _touches_face(skin, faces, f, r, c):
    """Whether a skin pixel of face ``f`` is on (r, c) or among its eight neighbours."""
    rows, cols = skin.shape
    for rr in range(max(0, r - 1), min(rows, r + 2)):
        for cc in range(max(0, c - 1), min(cols, c + 2)):
            if faces[rr, cc] == f and skin[rr, cc] != 0:
                return True
    return False


@njit(cache=True, error_model="numpy")
def update_background(image, bg, busy, frames, p):
    """Move the background model towards this frame.

    The first frame is the model; until ``P_BOOTSTRAP`` frames have been
    seen, each pixel keeps the coolest value it has read (people are warmer
    than the room, and they move). After that, each pixel moves towards
    this frame by ``P_ALPHA`` of the difference, clipped to the person margin
    so that a garbage reading cannot drag it, or by ``P_ABSORB_ALPHA`` near a
    person (``busy``), so that something warm that never leaves is taken into
    the background in the end. A change of the whole room is followed at
    once by :func:`background_shift` and taken into the model at this pace.
    """
    rows, cols = image.shape
    if frames < p[P_BOOTSTRAP]:
        for r in range(rows):
            for c in range(cols):
                if frames == 0 or image[r, c] < bg[r, c]:
                    bg[r, c] = image[r, c]
        return
    clip = p[P_MARGIN]
    for r in range(rows):
        for c in range(cols):
            d = min(max(image[r, c] - bg[r, c], -clip), clip)
            bg[r, c] += (p[P_ABSORB_ALPHA] if busy[r, c] != 0 else p[P_ALPHA]) * d


@njit(cache=True, error_model="numpy")
def block_trend(blocks, mean):
    """The straight line through the window's block means (oldest first): its rise over the window (degC)."""
    n = blocks.size
    sxy = 0.0
    sxx = 0.0
    for j in range(n):
        x = j - (n - 1) / 2.0
        sxy += x * (blocks[j] - mean)
        sxx += x * x
    return sxy / sxx * (n - 1)


@njit(cache=True, error_model="numpy")
def trend_allowance(stable_c, noise, n):
    """The rise over the window a steady reference's ``n`` block means may show: that of a straight line whose
    points spread by ``stable_c`` (the limit the spread alone holds a warming disc to), or STEADY_Z standard errors of
    the line's rise through ``n`` means of variance ``noise`` where that is larger."""
    sxx = n * (n * n - 1) / 12.0
    return (n - 1) * max(stable_c / math.sqrt(n * (n + 1) / 12.0), STEADY_Z * math.sqrt(noise / sxx))


@njit(cache=True, error_model="numpy")
def steady_allowance(stable_c, noise):
    """The slow variation a steady reference may show over its window: ``stable_c`` (the configured limit), or
    STEADY_Z standard errors of the blocks' chance spread where that is larger, ``noise`` being its expected value
    (degC squared)."""
    return math.sqrt(max(stable_c * stable_c, STEADY_Z * math.sqrt(2.0 / (BLOCKS - 1)) * noise))


@njit(cache=True, error_model="numpy")
def unmixed_drift(mean, background, learned, learned_background, set_point):
    """The sensor's drift since the reference was learned (degC; ``reference_step``). Without a learned
    background (NaN) the reading's change itself.

    The optics mix radiance, not temperature: the disc's reading is the
    temperature of ``a`` of its set point's radiance (T^4, kelvin) and
    ``1 - a`` of the wall's, ``a`` from the learned reading and background.
    A change ``dW`` of the wall then moves the reading by ``k * dW``, ``k =
    (1 - a) * (W / reading)^3``, and a drift ``d`` of the sensor moves both
    by ``d``: so ``d = (reading's change - k * background's change) / (1 -
    k)``."""
    if learned_background != learned_background:
        return mean - learned
    wall = learned_background + KELVIN
    read = learned + KELVIN
    disc = (set_point + KELVIN) ** 4
    share = (read ** 4 - wall ** 4) / max(disc - wall ** 4, 1.0)
    share = min(max(share, 0.05), 1.0)
    k = min((1.0 - share) * (wall / read) ** 3, 0.95)
    return ((mean - learned) - k * (background - learned_background)) / (1.0 - k)


@njit(cache=True, error_model="numpy")
def reference_step(image, bg, guard, shift, ambient, p, ref, state, out):
    """The reference source: this frame's reading, its status, and the offset.

    ``ref`` holds the box's pixels' running means (one per box pixel) then a
    ring of the last ``P_REF_WINDOW`` readings. The reading is the mean of
    the ``P_REF_PIXELS`` box pixels with the highest running means (the ones
    most on the disc: choosing them by their running means, not by this
    frame's values, keeps the noise from biasing the choice). The background
    around it is the median of the background model (plus this frame's
    ``shift``) over the guard's ring outside the box (the ``ambient`` if
    there is no ring). Over a full window:

    - its apparent size is the sum over the box of the running means'
      excess over that background, in pixels of full set-point contrast
      (blur moves signal between pixels but keeps the sum);
    - its fraction is the window mean's excess over the background as a
      share of the set point's;
    - it is stable when the means of the window's BLOCKS blocks spread by
      less than ``P_REF_STABLE_C`` beyond what the pixel noise explains (the
      noise from the differences between readings two frames apart, so that
      a full frame built from alternating subpages still counts as
      independent; a block's mean holds only half as many independent
      readings as frames, SUBPAGES).

    The drift is what the sensor now reads above what it read when the
    reading was learned: the window's mean minus the learned reading, unmixed
    from the wall when the background then is known (``P_REF_LEARNED_BG``).
    A disc that reaches a share ``a`` of its set-point contrast reads
    ``a`` of the disc and ``1 - a`` of the wall behind it, and the sensor's
    drift moves both: the reading moves by ``(1 - a) * wall's change + drift``
    and the background by ``wall's change + drift``, so the drift is
    ``(reading's change - (1 - a) * background's change) / a``, with ``a``
    the learned share (worked in radiance, :func:`unmixed_drift`). Without
    the background a small disc would read a warmer or cooler room as
    drift.

    The status is the first of: not found, too small, not learned, unstable,
    drift (this window's drift more than ``P_REF_DRIFT``), ok. Only when ok
    is the offset set: minus the drift averaged over the ok windows so far,
    with a weight ``P_REF_DRIFT_ALPHA`` per frame once there are enough of
    them (a small disc's unmixed drift is its window's noise over ``a``; the
    sensor drifts over minutes). Until the background model has settled
    (``SETTLE_TAUS``) the wall the drift is unmixed from is the one the frames
    themselves show (``S_WALL``: the median of the ring's pixels' running
    means over the window, as the wall was learned), then the model's.
    Never the set point minus anything. A reference that turns unstable,
    not found or too small within ``P_REF_HOLD`` frames of its last ok one
    (someone passing in front of it or near it) is *held*: ok, with the
    averaged drift, as the sensor drifts over minutes. Writes O_REF,
    O_REF_OK, O_OFFSET, O_REF_STD (the excess spread) and the O_REF_* fields.
    """
    out[O_REF_OK] = 0.0
    out[O_OFFSET] = 0.0
    out[O_REF_STD] = _NAN
    out[O_REF_MEAN] = _NAN
    out[O_REF_BACKGROUND] = _NAN
    out[O_REF_SIZE] = _NAN
    out[O_REF_FRACTION] = _NAN
    r0 = int(p[P_REF_BOX])
    if r0 < 0:
        out[O_REF] = _NAN
        out[O_REF_STATUS] = REF_NONE
        return
    c0 = int(p[P_REF_BOX + 1])
    r1 = int(p[P_REF_BOX + 2])
    c1 = int(p[P_REF_BOX + 3])
    bw = c1 - c0
    nbox = (r1 - r0) * bw
    first = state[S_FRAMES] == 0
    alpha = p[P_REF_ALPHA]
    for i in range(nbox):
        v = image[r0 + i // bw, c0 + i % bw]
        ref[i] = v if first else ref[i] + alpha * (v - ref[i])
    npick = min(int(p[P_REF_PIXELS]), nbox)
    chosen = np.zeros(nbox, dtype=np.bool_)
    total = 0.0
    for _ in range(npick):
        best = -1
        for i in range(nbox):
            if not chosen[i] and (best < 0 or ref[i] > ref[best]):
                best = i
        chosen[best] = True
        total += image[r0 + best // bw, c0 + best % bw]
    reading = total / npick
    out[O_REF] = reading

    window = int(p[P_REF_WINDOW])
    pos = int(state[S_RING_POS])
    ref[nbox + pos] = reading
    state[S_RING_POS] = (pos + 1) % window
    count = min(int(state[S_RING_COUNT]) + 1, window)
    state[S_RING_COUNT] = count
    # The wall around the disc as the frames show it: the median of the ring's pixels' own running means (over
    # the window, as the reading's mean; kept at the end of ``ref``), as the wall was learned. It is what the
    # reading is unmixed from until the background model has settled (SETTLE_TAUS).
    # The ring lies within the box grown by the guard: only that rectangle is scanned.
    rows, cols = image.shape
    g = int(p[P_GUARD])
    gr0, gr1 = max(0, r0 - g), min(rows, r1 + g)
    gc0, gc1 = max(0, c0 - g), min(cols, c1 + g)
    n = int(p[P_REF_RING])
    around = np.empty(max(n, 1))
    tail = ref.shape[0] - n
    weight = max(1.0 / (state[S_FRAMES] + 1.0), 1.0 / window)
    j = 0
    for r in range(gr0, gr1):
        for c in range(gc0, gc1):
            if guard[r, c] == GUARD_RING:
                v = image[r, c]
                ref[tail + j] = v if first else ref[tail + j] + weight * (v - ref[tail + j])
                around[j] = ref[tail + j]
                j += 1
    state[S_WALL] = median_of(around, n) if n > 0 else ambient  # no ring (no guard): the room
    if count < window:
        out[O_REF_STATUS] = REF_PENDING
        return
    start = int(state[S_RING_POS])
    ring = ref[nbox:nbox + window]
    mean = 0.0
    for i in range(window):
        mean += ring[i]
    mean /= window
    per_block = window // BLOCKS
    blocks = np.zeros(BLOCKS)
    for i in range(window):
        blocks[i // per_block] += ring[(start + i) % window]
    spread = 0.0
    for j in range(BLOCKS):
        blocks[j] /= per_block
        spread += (blocks[j] - mean) ** 2
    spread /= BLOCKS - 1
    squares = np.empty(window - 2)
    for i in range(2, window):
        squares[i - 2] = (ring[(start + i) % window] - ring[(start + i - 2) % window]) ** 2
    noise = median_of(squares, window - 2) / (2.0 * CHI2_1_MEDIAN * (per_block / SUBPAGES))
    excess = math.sqrt(max(spread - noise, 0.0))
    allowed = steady_allowance(p[P_REF_STABLE_C], noise)
    out[O_REF_STD] = excess
    out[O_REF_ALLOWED] = allowed
    out[O_REF_MEAN] = mean

    n = 0
    for r in range(gr0, gr1):
        for c in range(gc0, gc1):
            if guard[r, c] == GUARD_RING:
                around[n] = bg[r, c]
                n += 1
    background = median_of(around, n) + shift if n > 0 else ambient
    out[O_REF_BACKGROUND] = background
    full = max(p[P_REF_C] - background, 0.1)
    size = 0.0
    for i in range(nbox):
        size += max(ref[i] - background, 0.0)
    out[O_REF_SIZE] = size / full
    fraction = (mean - background) / full
    out[O_REF_FRACTION] = fraction
    learned = p[P_REF_LEARNED]
    if mean - background < p[P_REF_MIN_CONTRAST]:
        status = REF_NOT_FOUND
    elif fraction < p[P_REF_MIN_FRACTION]:
        status = REF_TOO_SMALL
    elif learned != learned:
        status = REF_NOT_LEARNED
    elif not excess < allowed or abs(block_trend(blocks, mean)) >= trend_allowance(p[P_REF_STABLE_C], noise, BLOCKS):
        status = REF_UNSTABLE
    else:
        # The background model starts from each pixel's coolest reading and settles over a few of its time
        # constants: until then the wall is the frames' own ring (S_WALL).
        settled = state[S_FRAMES] >= p[P_BOOTSTRAP] + SETTLE_TAUS / p[P_ALPHA]
        drift = unmixed_drift(mean, background if settled else state[S_WALL], learned, p[P_REF_LEARNED_BG],
                              p[P_REF_C])
        if abs(drift) > p[P_REF_DRIFT]:
            status = REF_DRIFT
        else:
            status = REF_OK
            out[O_REF_OK] = 1.0
            state[S_LAST_OK] = state[S_FRAMES]
            state[S_DRIFT_COUNT] += 1.0
            state[S_DRIFT] += max(1.0 / state[S_DRIFT_COUNT], p[P_REF_DRIFT_ALPHA]) * (drift - state[S_DRIFT])
            out[O_OFFSET] = -state[S_DRIFT]
    if ((status == REF_UNSTABLE or status == REF_NOT_FOUND or status == REF_TOO_SMALL) and state[S_DRIFT_COUNT] > 0
            and state[S_FRAMES] - state[S_LAST_OK] <= p[P_REF_HOLD]):
        status = REF_HELD
        out[O_REF_OK] = 1.0
        out[O_OFFSET] = -state[S_DRIFT]
    out[O_REF_STATUS] = status


@njit(cache=True, error_model="numpy")
def analyze_frame(raw, bg, busy, guard, ref, state, p, tables, out):
    """One frame: every step, in order; updates ``bg``, ``busy``, ``ref`` and ``state``; results into ``out``.

    ``raw``, ``bg``: float64 (24, 32); ``busy``, ``guard``: uint8 (24, 32);
    ``ref``: float64, box pixels + window; ``state``: float64[S_LENGTH];
    ``p``: float64[P_LENGTH]; ``tables``: float64 (3, n): face widths in
    pixels (increasing), the line-of-sight distances and face heights in rows
    that go with them; ``out``: float64[O_LENGTH].
    """
    rows, cols = raw.shape
    for i in range(O_LENGTH):
        out[i] = _NAN
    frames = state[S_FRAMES]
    image = np.empty((rows, cols))
    finite_frame(raw, bg, frames == 0, image)
    shift = background_shift(image, bg, busy, guard, 2.0 * p[P_MARGIN])
    if frames <= p[P_BOOTSTRAP] or frames % AMBIENT_EVERY == 0:
        state[S_BG_MEDIAN] = background_median(bg, guard)
    ambient = state[S_BG_MEDIAN] + shift
    bgnow = np.empty((rows, cols))
    for r in range(rows):
        for c in range(cols):
            bgnow[r, c] = bg[r, c] + shift
    out[O_AMBIENT] = ambient
    out[O_SHIFT] = shift

    labels = np.empty((rows, cols), dtype=np.int32)
    sizes = np.empty(PIXELS, dtype=np.int64)
    hot_near = np.empty((rows, cols), dtype=np.uint8)
    skin = np.empty((rows, cols), dtype=np.uint8)
    work = np.empty((rows, cols), dtype=np.uint8)
    queue = np.empty(PIXELS, dtype=np.int32)
    nwarm, hot = skin_pixels(image, bgnow, guard, p, ambient, labels, sizes, hot_near, skin, work, queue)
    out[O_HOT] = 1.0 if hot else 0.0
    largest_warm(labels, sizes, nwarm, out)

    close_columns(skin, work)
    faces = np.empty((rows, cols), dtype=np.int32)
    nfaces = label(work, False, faces, queue)
    counts = np.empty(nfaces, dtype=np.int64)
    boxes = np.empty((nfaces, 4), dtype=np.int64)
    face_table(skin, faces, nfaces, counts, boxes)
    merge_below(skin, labels, faces, nfaces, counts, boxes)
    _list_faces(counts, boxes, nfaces, int(p[P_MIN_FACE_PX]), out)
    people = int(out[O_PEOPLE])
    if people > 0:
        main = _largest(counts, nfaces)
        face_measure(image, bgnow, skin, hot_near, guard, faces, main + 1, p, ambient, tables[0], tables[1],
                     tables[2], out)
    else:
        for i in range(4):
            out[O_BOX + i] = -1.0
        out[O_WIDTH] = 0.0
        out[O_FACE_PIXELS] = 0.0
        out[O_EDGE] = 0.0
        out[O_IN_VIEW] = 0.0
        out[O_GLASSES] = 0.0
        out[O_COVERED] = 0.0
        out[O_COLD_NOSE] = 0.0
        out[O_EYE_LOW] = 0.0

    # Pixels on or next to a warm component (not a single pixel) are busy: kept out of the background.
    for r in range(rows):
        for c in range(cols):
            lab = labels[r, c]
            work[r, c] = 1 if lab > 0 and sizes[lab - 1] >= 2 else 0
    dilate8(work, busy)
    update_background(image, bg, busy, frames, p)
    reference_step(image, bg, guard, shift, ambient, p, ref, state, out)
    state[S_FRAMES] = frames + 1


@njit(cache=True, error_model="numpy")
def largest_warm(labels, sizes, n, out):
    """O_WARM and O_WARM_BOX: the largest warm component of at least two pixels (the lowest label on a tie)."""
    best = -1
    for i in range(n):
        if sizes[i] >= 2 and (best < 0 or sizes[i] > sizes[best]):
            best = i
    for j in range(4):
        out[O_WARM_BOX + j] = -1.0
    out[O_WARM] = 0.0
    if best < 0:
        return
    rows, cols = labels.shape
    r0, c0, r1, c1 = rows, cols, -1, -1
    for r in range(rows):
        for c in range(cols):
            if labels[r, c] == best + 1:
                r0, c0, r1, c1 = min(r0, r), min(c0, c), max(r1, r), max(c1, c)
    out[O_WARM] = sizes[best]
    out[O_WARM_BOX] = r0
    out[O_WARM_BOX + 1] = c0
    out[O_WARM_BOX + 2] = r1 + 1
    out[O_WARM_BOX + 3] = c1 + 1


@njit(cache=True, error_model="numpy")
def _largest(counts, n):
    """Index of the face with the most skin pixels (the first on a tie)."""
    best = 0
    for i in range(1, n):
        if counts[i] > counts[best]:
            best = i
    return best


@njit(cache=True, error_model="numpy")
def _list_faces(counts, boxes, n, min_pixels, out):
    """O_PEOPLE and the O_FACES list: faces of at least ``min_pixels`` skin pixels, largest first."""
    taken = np.zeros(n, dtype=np.bool_)
    people = 0
    for i in range(n):
        if counts[i] >= min_pixels:
            people += 1
    out[O_PEOPLE] = people
    for slot in range(MAX_FACES):
        best = -1
        for i in range(n):
            if not taken[i] and counts[i] >= min_pixels and (best < 0 or counts[i] > counts[best]):
                best = i
        base = O_FACES + 5 * slot
        if best < 0:
            out[base] = 0.0
            for j in range(1, 5):
                out[base + j] = -1.0
            continue
        taken[best] = True
        out[base] = counts[best]
        out[base + 1] = boxes[best, 0]
        out[base + 2] = boxes[best, 1]
        out[base + 3] = boxes[best, 2] + 1
        out[base + 4] = boxes[best, 3] + 1
