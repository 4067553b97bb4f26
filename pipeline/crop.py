"""Smart crop: the largest window of an aspect that captures the most focus weight."""

from __future__ import annotations

import numpy as np

from pipeline.vision import Focus

CropBox = tuple[int, int, int, int]  # left, top, right, bottom


def crop_size(width: int, height: int, target_aspect: float) -> tuple[int, int]:
    """The largest (w, h) of `target_aspect` that fits in width x height."""
    if width / height > target_aspect:
        ch = height
        cw = min(width, max(1, round(height * target_aspect)))
    else:
        cw = width
        ch = min(height, max(1, round(width / target_aspect)))
    return cw, ch


SUBJECT_KEEP = 0.75  # centring on the subject may give up at most 25% of the best capture


def _best_offset(
    profile: np.ndarray,
    window: float,
    full: int,
    centre: float,
    subject: tuple[float, float] | None = None,
) -> int:
    """Offset (in full-size pixels) of a window that maximises the summed profile.

    `profile` is the weight per map column (or row); `window` is the window length in map
    units. Among offsets within 0.5% of the best, the one whose centre is nearest `centre`
    (the weighted centroid) wins, so a subject sits well inside rather than at an edge.
    When `subject` (start, end in full pixels) fits in the window, the window is centred on
    it instead, as long as that keeps SUBJECT_KEEP of the best capture.
    """
    n = profile.shape[0]
    scale = full / n  # full-size pixels per map cell
    win_full = window * scale
    max_off = full - win_full
    if max_off <= 0.5:
        return 0
    cum = np.concatenate([[0.0], np.cumsum(profile, dtype=np.float64)])

    def captured(start: np.ndarray) -> np.ndarray:
        # Integral with linear interpolation between cells (sub-cell precision).
        def at(pos: np.ndarray) -> np.ndarray:
            pos = np.clip(pos, 0, n)
            i = np.floor(pos).astype(int)
            i1 = np.minimum(i + 1, n)
            frac = pos - i
            return cum[i] + (cum[i1] - cum[i]) * frac

        return at(start + window) - at(start)

    steps = min(int(max_off) + 1, 4 * n + 1)
    offsets = np.linspace(0.0, max_off, steps)
    scores = captured(offsets / scale)
    best = float(scores.max())
    ok = offsets[scores >= best - 0.005 * max(best, 1e-12)]
    wanted = centre - win_full / 2
    pick = float(ok[np.argmin(np.abs(ok - wanted))])
    if subject is not None and subject[1] - subject[0] <= win_full:
        centred = min(max((subject[0] + subject[1]) / 2 - win_full / 2, 0.0), max_off)
        if centred <= subject[0] and centred + win_full >= subject[1]:
            got = float(captured(np.array([centred / scale]))[0])
            if got >= SUBJECT_KEEP * best:
                pick = centred
    return int(round(pick))


def choose_crop(width: int, height: int, target_aspect: float, focus: Focus | None) -> CropBox:
    """Crop box (left, top, right, bottom) in width x height pixels for `target_aspect`.

    The window is as large as the aspect allows and slides along the free axis to capture the
    most focus weight (faces weigh most). Without a focus map it is centred.
    """
    cw, ch = crop_size(width, height, target_aspect)
    if focus is None:
        left, top = (width - cw) // 2, (height - ch) // 2
        return left, top, left + cw, top + ch
    weights = focus.weights
    mh, mw = weights.shape
    cx, cy = focus.centroid()
    sx, sy = width / focus.size[0], height / focus.size[1]
    cx, cy = cx * sx, cy * sy
    subj_x = subj_y = None
    if focus.subject is not None:
        sl, st, sr, sb = focus.subject
        subj_x, subj_y = (sl * sx, sr * sx), (st * sy, sb * sy)
    left = top = 0
    if cw < width:
        left = _best_offset(weights.sum(axis=0), cw * mw / width, width, cx, subj_x)
    if ch < height:
        top = _best_offset(weights.sum(axis=1), ch * mh / height, height, cy, subj_y)
    left = max(0, min(left, width - cw))
    top = max(0, min(top, height - ch))
    return left, top, left + cw, top + ch


def captured_share(box: CropBox, width: int, height: int, focus: Focus) -> float:
    """Share of the focus weight inside `box` (for tests and diagnostics)."""
    mh, mw = focus.weights.shape
    left, t, r, b = box
    x0, x1 = int(left * mw / width), int(np.ceil(r * mw / width))
    y0, y1 = int(t * mh / height), int(np.ceil(b * mh / height))
    total = float(focus.weights.sum()) or 1.0
    return float(focus.weights[y0:y1, x0:x1].sum()) / total
