"""Smart crop: the largest window of an aspect that keeps the subject whole and well placed.

The window is as large as the platform's aspect allows, so it slides along one free axis only.
Offsets are ranked first by how much of the subject box they keep, then by a score that
avoids cutting through salient detail, captures the rest of the focus weight and puts the
subject on the centre or a third (on the side it sits in the photo). When no window of the
shape keeps enough of the subject, `plan_crop` can fit the whole photo instead ("pad").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.errors import OptionsError
from pipeline.models import FITS
from pipeline.vision import Focus

CropBox = tuple[int, int, int, int]  # left, top, right, bottom

PAD_BELOW = 0.8  # fit "auto" pads when the best crop keeps less of the subject than this
KEEP_SLACK = 0.01  # offsets within this share of the best subject keep count as keeping it
# Score weights among the offsets that keep the subject (each term is in 0..1).
W_PLACE = 1.0  # subject centre on its target (centre or a third)
W_MARGIN = 0.5  # subject not touching the window's edge
W_CAPTURE = 0.6  # the rest of the focus weight inside the window
W_CUT = 0.4  # window edges through salient detail
THIRD = 1 / 3
MARGIN = 0.08  # wanted free space around the subject, as a share of the window


def crop_size(width: int, height: int, target_aspect: float) -> tuple[int, int]:
    """The largest (w, h) of `target_aspect` that fits in width x height."""
    if width / height > target_aspect:
        ch = height
        cw = min(width, max(1, round(height * target_aspect)))
    else:
        cw = width
        ch = min(height, max(1, round(width / target_aspect)))
    return cw, ch


@dataclass(frozen=True)
class CropPlan:
    """How one platform's frame is filled: a crop window or the whole photo padded."""

    box: CropBox  # the window (the whole photo when fit == "pad"), in width x height pixels
    fit: str = "crop"  # crop | pad
    subject: CropBox | None = None  # the subject box in width x height pixels
    subject_kept: float = 1.0  # share of the subject box inside the output
    best_kept: float = 1.0  # the most any window of this shape could keep


def check_fit(fit: str) -> str:
    """The canonical fit name, or OptionsError UNKNOWN_FIT."""
    value = (fit or "auto").strip().lower()
    if value not in FITS:
        raise OptionsError(f"Unknown fit '{fit}'; choose crop, pad or auto.", code="UNKNOWN_FIT")
    return value


def kept_share(box: CropBox, subject: CropBox | None) -> float:
    """Share of the subject box's area inside `box` (1.0 when there is no subject)."""
    if subject is None:
        return 1.0
    sl, st, sr, sb = subject
    area = max(1e-9, (sr - sl) * (sb - st))
    ix = max(0.0, min(box[2], sr) - max(box[0], sl))
    iy = max(0.0, min(box[3], sb) - max(box[1], st))
    return min(1.0, ix * iy / area)


def _integral(profile: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Integral of a per-cell profile at fractional positions (linear within a cell)."""
    n = profile.shape[0]
    cum = np.concatenate([[0.0], np.cumsum(profile, dtype=np.float64)])

    def at(pos: np.ndarray) -> np.ndarray:
        pos = np.clip(pos, 0, n)
        i = np.floor(pos).astype(int)
        i1 = np.minimum(i + 1, n)
        frac = pos - i
        return cum[i] + (cum[i1] - cum[i]) * frac

    return at


def _density(profile: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Profile value at map positions, 0 outside (an edge on the photo's border cuts nothing)."""
    n = profile.shape[0]
    idx = np.floor(pos).astype(int)
    inside = (idx > 0) & (idx < n - 1)
    vals = profile[np.clip(idx, 0, n - 1)]
    return np.where(inside, vals, 0.0)


def _offsets(max_off: float, n: int) -> np.ndarray:
    return np.linspace(0.0, max_off, min(int(max_off) + 1, 8 * n + 1))


def _best_offset(
    profile: np.ndarray,
    window: float,
    full: int,
    centre: float,
    subject: tuple[float, float] | None = None,
    vertical: bool = False,
) -> int:
    """Offset (in full-size pixels) of a window sliding along one axis.

    `profile` is the focus weight per map column (or row); `window` the window length in map
    units; `centre` the weighted centroid (full pixels); `subject` the subject's (start, end)
    in full pixels. Offsets that keep the most of the subject are scored by placement,
    margin, captured weight and the salience their edges cut through. A subject taller than
    a `vertical` window keeps its top (heads, tree tops, a bottle's cap).
    """
    n = profile.shape[0]
    scale = full / n  # full-size pixels per map cell
    win_full = window * scale
    max_off = full - win_full
    if max_off <= 0.5:
        return 0
    offsets = _offsets(max_off, n)
    at = _integral(profile)
    total = float(at(np.array([n]))[0]) or 1.0
    start = offsets / scale
    captured = (at(start + window) - at(start)) / total
    peak = float(profile.max()) or 1.0
    cut = (_density(profile, start) + _density(profile, start + window)) / (2 * peak)
    if subject is None or subject[1] - subject[0] <= 0:
        # No subject: the most weight, nearest the centroid; avoid cutting detail.
        score = captured - 0.25 * W_CUT * cut * captured.max()
        best = float(score.max())
        ok = offsets[score >= best - 0.005 * max(abs(best), 1e-12)]
        wanted = centre - win_full / 2
        return int(round(float(ok[np.argmin(np.abs(ok - wanted))])))
    s0, s1 = subject
    span = s1 - s0
    kept = np.clip(np.minimum(offsets + win_full, s1) - np.maximum(offsets, s0), 0, None) / span
    best_kept = float(kept.max())
    ok = kept >= best_kept - KEEP_SLACK
    score = W_CAPTURE * captured / max(float(captured[ok].max()), 1e-12) - W_CUT * cut
    if span < win_full:
        # The subject fits: put its centre on the centre, or on the third on its own side.
        rel = ((s0 + s1) / 2) / full  # where it sits in the photo, 0..1
        target = 0.5 + float(np.clip(rel - 0.5, -(0.5 - THIRD), 0.5 - THIRD))
        u = ((s0 + s1) / 2 - offsets) / win_full
        score += W_PLACE * (1.0 - np.clip(np.abs(u - target) / 0.5, 0.0, 1.0))
        room = np.minimum(s0 - offsets, offsets + win_full - s1) / win_full
        # Margins only count where the photo has room (not at its own border).
        at_border = (offsets <= 0.5) & (s0 - offsets <= MARGIN * win_full)
        at_border |= (offsets >= max_off - 0.5) & (offsets + win_full - s1 <= MARGIN * win_full)
        margin = np.where(at_border, 1.0, np.clip(room / MARGIN, 0.0, 1.0))
        score += W_MARGIN * margin
    elif vertical:
        # Taller than the window: keep the subject's top, a little room above it.
        wanted = min(max(s0 - MARGIN * win_full, 0.0), max_off)
        score += W_PLACE * (1.0 - np.clip(np.abs(offsets - wanted) / win_full, 0.0, 1.0))
    else:
        # Wider than the window: stay near the subject's weighted middle (where its
        # detail is; a symmetric scene stays centred) unless the weight says otherwise.
        i0, i1 = int(s0 / scale), max(int(s0 / scale) + 1, int(np.ceil(s1 / scale)))
        part = profile[i0:i1]
        mid = (s0 + s1) / 2
        if part.sum() > 0:
            mid = float(((np.arange(i0, i1) + 0.5) * part).sum() / part.sum()) * scale
        u = (mid - offsets) / win_full
        score += 0.5 * W_PLACE * (1.0 - np.clip(np.abs(u - 0.5) / 0.5, 0.0, 1.0))
    score = np.where(ok, score, -np.inf)
    return int(round(float(offsets[int(np.argmax(score))])))


def plan_crop(
    width: int, height: int, target_aspect: float, focus: Focus | None, fit: str = "crop"
) -> CropPlan:
    """The crop (or pad) plan for a width x height photo and `target_aspect`.

    fit "crop" always crops, "pad" always fits the whole photo, "auto" pads when the best
    window would keep less than PAD_BELOW of the subject box.
    """
    fit = check_fit(fit)
    cw, ch = crop_size(width, height, target_aspect)
    subject = None
    if focus is not None and focus.subject is not None:
        sx, sy = width / focus.size[0], height / focus.size[1]
        sl, st, sr, sb = focus.subject
        subject = (
            max(0, int(sl * sx)),
            max(0, int(st * sy)),
            min(width, int(round(sr * sx))),
            min(height, int(round(sb * sy))),
        )
    if focus is None:
        left, top = (width - cw) // 2, (height - ch) // 2
        box = (left, top, left + cw, top + ch)
    else:
        weights = focus.weights
        mh, mw = weights.shape
        cx, cy = focus.centroid()
        cx, cy = cx * width / focus.size[0], cy * height / focus.size[1]
        left = top = 0
        if cw < width:
            span = (subject[0], subject[2]) if subject else None
            left = _best_offset(weights.sum(axis=0), cw * mw / width, width, cx, span)
        if ch < height:
            span = (subject[1], subject[3]) if subject else None
            top = _best_offset(
                weights.sum(axis=1), ch * mh / height, height, cy, span, vertical=True
            )
        left = max(0, min(left, width - cw))
        top = max(0, min(top, height - ch))
        box = (left, top, left + cw, top + ch)
    kept = kept_share(box, subject)
    best = best_kept(width, height, (cw, ch), subject)
    if fit == "pad" or (fit == "auto" and subject is not None and best < PAD_BELOW):
        return CropPlan((0, 0, width, height), "pad", subject, 1.0, best)
    return CropPlan(box, "crop", subject, kept, best)


def best_kept(width: int, height: int, window: tuple[int, int], subject: CropBox | None) -> float:
    """The largest share of `subject` any window of size `window` inside the photo keeps."""
    if subject is None:
        return 1.0
    cw, ch = window
    sl, st, sr, sb = subject
    fx = 1.0 if sr - sl <= cw else cw / max(1e-9, sr - sl)
    fy = 1.0 if sb - st <= ch else ch / max(1e-9, sb - st)
    return fx * fy


def choose_crop(width: int, height: int, target_aspect: float, focus: Focus | None) -> CropBox:
    """Crop box (left, top, right, bottom) in width x height pixels for `target_aspect`.

    The window is as large as the aspect allows and keeps as much of the subject as it can,
    well placed (see plan_crop). Without a focus map it is centred.
    """
    return plan_crop(width, height, target_aspect, focus, "crop").box
