"""Divergence statistics between two distributions: Jensen–Shannon and Kullback–Leibler in bits, 1-Wasserstein.

The statistics the profiles of :mod:`xner.divergence.profiles` are compared with (see :mod:`xner.divergence`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr
from scipy.stats import wasserstein_distance

if TYPE_CHECKING:
    pass


STATISTICS = ("js", "kl_st", "kl_ts", "wasserstein")


LENGTH_FAMILIES = ("span_length", "entities_per_sentence")  # (and span_length[T]) — Wasserstein applies


OVERLAPS = (
    "entity_overlap",
    "entity_overlap_typed",
    "entity_token_overlap",
    "context_overlap",
    "subword_overlap",
    "entity_subword_overlap",
)


SUBWORD_MEASURES = ("subword_overlap", "entity_subword_overlap")


DEFAULT_SMOOTHING = 0.5


_PER_TYPE = re.compile(r"^span_length\[(?P<type>[^\]]+)\]$")


class DivergenceError(ValueError):
    """Input that divergences cannot be computed for: empty splits, no entities, unknown measures, bad mixes."""


def _as_probs(x: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise DivergenceError(
            f"{what}: expected a non-empty 1-d vector of counts or probabilities, got shape {arr.shape}"
        )
    total = arr.sum()
    if not math.isfinite(total) or arr.min() < 0:  # a NaN or infinite cell makes the sum non-finite
        raise DivergenceError(f"{what}: counts must be finite and non-negative, got {arr.tolist()}")
    if total <= 0:
        raise DivergenceError(f"{what}: all cells are zero (an empty distribution has no divergence)")
    return arr / total


def js_divergence(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen–Shannon divergence in bits between two aligned count or probability vectors; in [0, 1].

    This is the *divergence*: the square of ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.
    """
    pp, qq = _as_probs(p, "p"), _as_probs(q, "q")
    if pp.shape != qq.shape:
        raise DivergenceError(f"p and q must be aligned over the same cells; got {pp.size} and {qq.size} cells")
    with np.errstate(invalid="ignore"):
        dist = float(jensenshannon(pp, qq, base=2))
    if math.isnan(dist):
        # scipy takes sqrt of a sum that rounding can leave at -1e-17 for (near-)identical inputs; the inputs
        # were validated above, so NaN here can only mean that: check it really is ~0 before returning 0.
        m = (pp + qq) / 2
        raw = (_kl_bits(pp, m) + _kl_bits(qq, m)) / 2
        if abs(raw) > 1e-12:
            raise DivergenceError(f"Jensen–Shannon divergence is NaN for p={pp.tolist()}, q={qq.tolist()}")
        return 0.0
    return min(1.0, dist * dist)


def kl_divergence(p: Sequence[float], q: Sequence[float], smoothing: float = 0.0) -> float:
    """Kullback–Leibler divergence KL(p‖q) in bits between aligned count vectors, with additive smoothing.

    ``smoothing`` pseudo-counts are added to every cell of both vectors before normalising (pass counts, not
    probabilities, when smoothing matters). A cell where ``q`` is zero and ``p`` is not makes KL infinite:
    with ``smoothing=0`` that is an error, never a silent ``inf``.
    """
    if smoothing < 0 or not math.isfinite(smoothing):
        raise DivergenceError(f"smoothing must be a finite number >= 0, got {smoothing}")
    pa, qa = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if pa.shape != qa.shape:
        raise DivergenceError(f"p and q must be aligned over the same cells; got shapes {pa.shape} and {qa.shape}")
    _as_probs(pa, "p"), _as_probs(qa, "q")  # validate the counts themselves, before smoothing hides a bad cell
    pp, qq = _as_probs(pa + smoothing, "p"), _as_probs(qa + smoothing, "q")
    bad = (qq == 0) & (pp > 0)
    if bad.any():
        raise DivergenceError(
            f"KL(p‖q) is infinite: q is zero in {int(bad.sum())} cell(s) where p is not; "
            f"pass smoothing > 0 (pseudo-counts per cell) to get a finite value"
        )
    return max(0.0, _kl_bits(pp, qq))


def _kl_bits(p: np.ndarray, q: np.ndarray) -> float:
    # scipy.special.rel_entr rather than scipy.stats.entropy: same formula, without the per-call argument
    # inspection of scipy.stats' nan-policy wrapper, which dominated the all-pairs benchmark.
    return float(rel_entr(p, q).sum() / math.log(2))


def length_wasserstein(a: Mapping[int, float], b: Mapping[int, float]) -> float:
    """1-Wasserstein distance between two length distributions given as ``{value: count}`` (scipy)."""
    for name, d in (("a", a), ("b", b)):
        if not d or sum(d.values()) <= 0:
            raise DivergenceError(f"length distribution {name} is empty (no entities or sentences to measure)")
    ua, wa = zip(*sorted(a.items()), strict=True)
    ub, wb = zip(*sorted(b.items()), strict=True)
    return float(wasserstein_distance(ua, ub, wa, wb))


def aligned(
    a: Mapping[Any, float], b: Mapping[Any, float], support: Iterable[Any] = ()
) -> tuple[list, np.ndarray, np.ndarray]:
    """Align two ``{cell: count}`` mappings over the union of their cells and ``support`` (sorted by str)."""
    cells = sorted(set(a) | set(b) | set(support), key=str)
    return (
        cells,
        np.array([a.get(c, 0) for c in cells], dtype=float),
        np.array([b.get(c, 0) for c in cells], dtype=float),
    )
