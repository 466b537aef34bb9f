"""A divergence dial: resample a source training set so that its entity-type mix sits at chosen
Jensen–Shannon divergences from a target's mix, for the training stage to train on.

How it works (and why it is built this way):

* A sentence carries several entities, possibly of several types, so the type mix of a sample cannot be set
  type by type; it is set by *sentence sampling probabilities*. With probabilities ``P`` the expected mix is
  ``Σ P_i c_i / Σ P_i |c_i|`` (``c_i``: the sentence's type counts), a convex combination of the sentences' own
  mixes. Hence the reachable mixes are the convex hull of the sentences' mixes, and whether a level is
  reachable depends on which sentences the source has.
* ``A`` — sampling probabilities whose expected mix equals the target mix ``q``: exponential tilting
  ``P_i ∝ exp(θ·u_i)`` (``u_i = c_i/|c_i|``), with ``θ`` found by minimising the convex dual
  ``log Σ |c_i| exp(θ·u_i) − θ·q`` (``scipy.optimize.minimize``). Sentences with a type ``q`` lacks get no mass.
* ``B`` — a far corner: uniform over the sentences most concentrated on one type ``t`` (usually sentences
  that carry only ``t``); the corner is the type whose ``B`` is farthest from ``q`` (or the one asked for).
* The path ``P(λ) = (1−λ)·A + λ·B``: the expected mix moves from ``q`` to the corner, and because JS(·, q) is
  convex and zero at ``q``, the divergence grows monotonically along it, so ``λ`` can be found by bisection.
* Draws are coupled across ``λ`` (common random numbers): draw ``j`` has a fixed A-sentence, a fixed
  B-sentence and a fixed uniform ``v_j``; it takes its B-sentence when ``v_j < λ``. The bisection therefore
  works on the *achieved* divergence of the actual sample, levels are nested, and a seed reproduces
  everything. A level is accepted when ``|achieved − target| ≤ tol`` (default ``tol = 0.005`` bits); a level
  outside ``[achieved at λ=0, achieved at λ=1]`` (the maximum reachable along this path) is unreachable.

Sentences without entities do not move the mix; they are kept once each, so the resample has the size of the
source (``n_sentences`` of the source = entity sentences drawn with replacement + entity-less kept).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import logsumexp

from xner.data import label_set_of, write_conll
from xner.divergence.measures import DivergenceError, js_divergence
from xner.divergence.profiles import flatten
from xner.signature import signature, write_table

if TYPE_CHECKING:
    import datasets

DEFAULT_LEVELS = (0.0, 0.05, 0.1, 0.2, 0.4)
DEFAULT_TOL = 0.005  # bits of Jensen–Shannon divergence
_BISECTION_STEPS = 60


class UnreachableError(DivergenceError):
    """A requested divergence cannot be reached from the source's sentences along the dial's path."""


@dataclass
class DialLevel:
    """One dial setting: what was asked, what the resample achieved, and the resample itself."""

    target_js: float
    achieved_js: float
    expected_js: float
    lam: float
    indices: list[int]
    type_counts: dict[str, int]
    status: str = "ok"  # or "unreachable"
    message: str = ""


@dataclass
class Dial:
    """A fitted dial for one source split and one target mix (see the module docstring)."""

    types: tuple[str, ...]
    target_mix: np.ndarray
    counts: np.ndarray  # sentences × types (entity sentences only)
    entity_rows: np.ndarray  # source row index of each entity sentence
    empty_rows: np.ndarray  # source rows without entities (kept once each)
    p_a: np.ndarray
    p_b: np.ndarray
    corner: str
    seed: int
    tol: float
    a_mismatch_js: float  # JS between A's expected mix and the target mix (0 when q is reachable exactly)
    _a_draw: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    _b_draw: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    _v: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        n = len(self.entity_rows)
        self._a_draw = rng.choice(n, size=n, p=self.p_a)
        self._b_draw = rng.choice(n, size=n, p=self.p_b)
        self._v = rng.random(n)

    def draw(self, lam: float) -> np.ndarray:
        """Entity-sentence positions (into ``counts``) drawn at mixing parameter ``lam``."""
        return np.where(self._v < lam, self._b_draw, self._a_draw)

    def mix_of(self, positions: np.ndarray) -> np.ndarray:
        """Type counts of a draw."""
        return self.counts[positions].sum(axis=0)

    def achieved(self, lam: float) -> float:
        """JS (bits) between the type mix of the draw at ``lam`` and the target mix."""
        return js_divergence(self.mix_of(self.draw(lam)), self.target_mix)

    def expected(self, lam: float) -> float:
        """JS (bits) between the *expected* type mix at ``lam`` and the target mix."""
        p = (1 - lam) * self.p_a + lam * self.p_b
        return js_divergence(p @ self.counts, self.target_mix)

    def max_reachable(self) -> float:
        """The largest divergence this dial's path reaches with this seed (achieved at ``λ = 1``)."""
        return self.achieved(1.0)

    def level(self, target_js: float) -> DialLevel:
        """Find ``λ`` by bisection so that the achieved JS is within ``tol`` of ``target_js``.

        Raises :class:`UnreachableError` when the level lies outside what the path reaches (with the range) or
        when the discreteness of the sample leaves no ``λ`` within ``tol``.
        """
        if not (0.0 <= target_js <= 1.0) or math.isnan(target_js):
            raise DivergenceError(f"a Jensen–Shannon divergence (base 2) lies in [0, 1]; got {target_js}")
        lo_v, hi_v = self.achieved(0.0), self.achieved(1.0)
        if target_js < lo_v - self.tol:
            raise UnreachableError(
                f"JS {target_js} is below the smallest divergence reachable ({lo_v:.4f} at λ=0, tolerance {self.tol}): "
                f"the resample cannot reproduce the target mix {self._mix_text(self.target_mix)} closely enough "
                f"(expected JS at λ=0: {self.a_mismatch_js:.4f}, the rest is the sampling noise of "
                f"{len(self.entity_rows)} entity sentences)"
            )
        if target_js > hi_v + self.tol:
            raise UnreachableError(
                f"JS {target_js} is above the maximum reachable along the path to the {self.corner} corner "
                f"({hi_v:.4f}, tolerance {self.tol}); choose levels up to {hi_v:.3f}"
            )
        lo, hi = 0.0, 1.0
        best_lam, best_err = (
            (0.0, abs(lo_v - target_js))
            if abs(lo_v - target_js) <= abs(hi_v - target_js)
            else (1.0, abs(hi_v - target_js))
        )
        for _ in range(_BISECTION_STEPS):
            if best_err <= self.tol / 10:
                break
            mid = (lo + hi) / 2
            val = self.achieved(mid)
            if abs(val - target_js) < best_err:
                best_lam, best_err = mid, abs(val - target_js)
            if val < target_js:
                lo = mid
            else:
                hi = mid
        if best_err > self.tol:
            raise UnreachableError(
                f"no λ brings the achieved JS within {self.tol} of {target_js} (closest: {best_err:.4f} away); "
                f"the source has too few sentences for this resolution — raise tol or use a larger source"
            )
        pos = self.draw(best_lam)
        counts = self.mix_of(pos)
        rows = np.sort(np.concatenate([self.entity_rows[pos], self.empty_rows]))
        return DialLevel(
            target_js=float(target_js),
            achieved_js=self.achieved(best_lam),
            expected_js=self.expected(best_lam),
            lam=float(best_lam),
            indices=rows.tolist(),
            type_counts={t: int(c) for t, c in zip(self.types, counts, strict=True)},
        )

    def _mix_text(self, mix: np.ndarray) -> str:
        m = np.asarray(mix, dtype=float) / np.sum(mix)
        return "{" + ", ".join(f"{t}: {v:.3f}" for t, v in zip(self.types, m, strict=True)) + "}"


def type_mix(ds: datasets.Dataset) -> dict[str, int]:
    """Entity counts per type of a split (every type of its label set, zeros included)."""
    f = flatten(ds)
    counts = np.bincount(f.ent_type, minlength=len(f.label_set.types))
    return {t: int(c) for t, c in zip(f.label_set.types, counts, strict=True)}


def _tilt(u: np.ndarray, w: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Sentence probabilities ``∝ exp(θ·u_i)`` whose expected mix (entity-weighted) is closest to ``q``."""
    logw = np.log(w)

    def dual(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = logw + u @ theta
        lse = logsumexp(z)
        rho = np.exp(z - lse)
        return float(lse - theta @ q), rho @ u - q

    k = u.shape[1]
    res = minimize(
        dual,
        np.zeros(k),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-50.0, 50.0)] * k,
        options={"maxiter": 500, "gtol": 1e-10, "ftol": 1e-14},
    )
    z = u @ res.x
    p = np.exp(z - logsumexp(z))
    return p


def fit_dial(
    source: datasets.Dataset,
    target: datasets.Dataset | Mapping[str, float],
    *,
    seed: int = 0,
    tol: float = DEFAULT_TOL,
    corner: str | None = None,
) -> Dial:
    """Prepare the dial for a source training split and a target (a split, or a ``{type: share}`` mix).

    The target must use the source's label set (map labels first with :func:`xner.divergence.harmonize`).
    """
    if not (0 < tol < 1):
        raise DivergenceError(f"tol must be in (0, 1) bits, got {tol}")
    if len(source) == 0:
        raise DivergenceError("source split is empty (no sentences)")
    types = label_set_of(source).types
    if isinstance(target, Mapping):
        unknown = set(target) - set(types)
        if unknown:
            raise DivergenceError(
                f"target mix names types {sorted(unknown)} that the source's label set lacks ({types})"
            )
        q = np.array([float(target.get(t, 0.0)) for t in types])
    else:
        if label_set_of(target).labels != label_set_of(source).labels:
            raise DivergenceError(
                f"source labels {label_set_of(source).labels} differ from target labels {label_set_of(target).labels}; "
                f"map them onto one label set first (xner.divergence.harmonize)"
            )
        if len(target) == 0:
            raise DivergenceError("target split is empty (no sentences)")
        tm = type_mix(target)
        q = np.array([tm[t] for t in types], dtype=float)
    if not np.all(np.isfinite(q)) or np.any(q < 0) or q.sum() <= 0:
        raise DivergenceError(
            f"target mix must be non-negative with at least one entity; got {dict(zip(types, q.tolist(), strict=True))}"
        )
    q = q / q.sum()
    counts_all = (
        flatten(source).type_counts_per_sentence().astype(float)
    )  # entities per sentence and type (strict IOB2)
    sizes = counts_all.sum(axis=1)
    entity_rows = np.flatnonzero(sizes > 0)
    if entity_rows.size == 0:
        raise DivergenceError(f"source split has no entities in {len(source)} sentences; there is no type mix to dial")
    counts = counts_all[entity_rows]
    w = counts.sum(axis=1)
    u = counts / w[:, None]
    # A: only sentences whose types the target has; tilt them towards q.
    allowed = np.all((counts == 0) | (q > 0)[None, :], axis=1)
    if not allowed.any():
        raise UnreachableError(
            "every source sentence carries a type the target lacks (target mix "
            f"{dict(zip(types, q.round(3), strict=True))})"
        )
    p_a = np.zeros(len(counts))
    p_a[allowed] = _tilt(u[allowed], w[allowed], q)
    a_mix = p_a @ counts
    # B: per type, the sentences most concentrated on it; the corner is the farthest from q.
    corners = {}
    for j, t in enumerate(types):
        if counts[:, j].sum() == 0:
            continue
        best = u[:, j].max()
        sel = np.isclose(u[:, j], best)
        pb = sel / sel.sum()
        corners[t] = (js_divergence(pb @ counts, q), pb)
    if corner is not None:
        if corner not in types:
            raise DivergenceError(f"corner {corner!r} is not a type of the label set ({', '.join(types)})")
        if corner not in corners:
            raise UnreachableError(f"the source has no {corner} entities, so the {corner} corner cannot be approached")
        chosen = corner
    else:
        chosen = max(corners, key=lambda t: (corners[t][0], -types.index(t)))
    return Dial(
        types=types,
        target_mix=q,
        counts=counts,
        entity_rows=entity_rows,
        empty_rows=np.flatnonzero(sizes == 0),
        p_a=p_a,
        p_b=corners[chosen][1],
        corner=chosen,
        seed=seed,
        tol=tol,
        a_mismatch_js=js_divergence(a_mix, q),
    )


def run_dial(
    source: datasets.Dataset,
    target: datasets.Dataset | Mapping[str, float],
    levels: Sequence[float] = DEFAULT_LEVELS,
    *,
    seed: int = 0,
    tol: float = DEFAULT_TOL,
    corner: str | None = None,
    on_unreachable: str = "error",
) -> tuple[Dial, list[DialLevel]]:
    """Resample ``source`` at each JS level from the target's type mix; returns the dial and one result per level.

    ``on_unreachable="error"`` raises :class:`UnreachableError` (naming the reachable range);
    ``"report"`` records the level with ``status="unreachable"`` and the message, and goes on.
    """
    if on_unreachable not in ("error", "report"):
        raise DivergenceError(f"on_unreachable must be 'error' or 'report', got {on_unreachable!r}")
    if not levels:
        raise DivergenceError("no levels requested")
    dial = fit_dial(source, target, seed=seed, tol=tol, corner=corner)
    out = []
    for lev in levels:
        try:
            out.append(dial.level(float(lev)))
        except UnreachableError as exc:
            if on_unreachable == "error":
                raise
            out.append(DialLevel(float(lev), math.nan, math.nan, math.nan, [], {}, "unreachable", str(exc)))
    return dial, out


def level_dir_name(js: float) -> str:
    """Folder name of one level, e.g. ``js_0.050``."""
    return f"js_{js:.3f}"


def write_dial(
    source: datasets.Dataset,
    dial: Dial,
    levels: Sequence[DialLevel],
    out_dir: str | Path,
    *,
    source_name: str = "source",
    target_name: str = "target",
    sig_fields: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Write each reachable level as ``<out_dir>/js_<level>/train.tsv`` (CoNLL) and ``<out_dir>/dial.csv`` (report).

    The report has one row per level: target and achieved JS, tolerance, ``λ``, the corner, sentence counts
    (total, distinct), per-type counts and shares, the target mix and the file written; it carries a signature.
    """
    out_dir = Path(out_dir)
    rows = []
    for lev in levels:
        row: dict[str, Any] = {
            "source": source_name,
            "target": target_name,
            "target_js": lev.target_js,
            "achieved_js": lev.achieved_js,
            "abs_error": abs(lev.achieved_js - lev.target_js) if lev.status == "ok" else math.nan,
            "expected_js": lev.expected_js,
            "tol": dial.tol,
            "lambda": lev.lam,
            "corner": dial.corner,
            "seed": dial.seed,
            "status": lev.status,
            "message": lev.message,
            "n_sentences": len(lev.indices),
            "n_distinct": len(set(lev.indices)),
            "n_entities": sum(lev.type_counts.values()),
        }
        total = max(1, sum(lev.type_counts.values()))
        for t, q in zip(dial.types, dial.target_mix, strict=True):
            row[f"n_{t}"] = lev.type_counts.get(t, 0)
            row[f"share_{t}"] = lev.type_counts.get(t, 0) / total
            row[f"target_share_{t}"] = float(q)
        path = ""
        if lev.status == "ok":
            p = out_dir / level_dir_name(lev.target_js) / "train.tsv"
            write_conll(source.select(lev.indices), p)
            path = str(p.relative_to(out_dir))
        row["path"] = path
        rows.append(row)
    df = pd.DataFrame(rows)
    sig = signature(
        stage="02_divergence_dial",
        seed=dial.seed,
        languages=[source_name, target_name],
        tol=dial.tol,
        corner=dial.corner,
        a_mismatch_js=round(dial.a_mismatch_js, 6),
        js_base=2,
        **dict(sig_fields or {}),
    )
    write_table(df, out_dir / "dial.csv", sig)
    return df


__all__ = [
    "DEFAULT_LEVELS",
    "DEFAULT_TOL",
    "Dial",
    "DialLevel",
    "UnreachableError",
    "fit_dial",
    "level_dir_name",
    "run_dial",
    "type_mix",
    "write_dial",
]
