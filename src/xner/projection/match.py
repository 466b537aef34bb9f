"""Matching source entities to target candidates: exact integer linear program and greedy approximation.

The problem (García-Ferrero et al. 2022; Chen et al. 2023): given a score ``s[e, c]`` for every source
entity ``e`` and target candidate span ``c``, choose binary ``x[e, c]`` to

    maximise   sum_{e,c} s[e, c] * x[e, c]
    subject to sum_c x[e, c] <= 1                         for every entity e   (one candidate per entity)
               sum_{(e,c): t in c} x[e, c] <= 1            for every target word t (no two chosen overlap)

Candidates are intervals, so two of them overlap exactly when they share a word: one constraint per
target word expresses "no two chosen candidates overlap" with no pairwise blow-up. Pairs whose score is at
most ``min_score`` are never chosen. :func:`match_ilp` solves it exactly with ``scipy.optimize.milp``
(HiGHS); :func:`match_greedy` repeatedly takes the best remaining pair and removes that entity and every
candidate overlapping the chosen one.

Against Politov et al. (2025)'s code (the ``src/ilp/ranges.py`` module of Shkalikov's thesis repository, read
for this comparison): its greedy solver is :func:`match_greedy`'s rule; its ILP (cvxpy, GUROBI by default) has
the same objective but by default requires every entity with a positive score to be projected *exactly once*
(``== 1``) and states non-overlap pairwise. :func:`match_ilp` allows an entity to stay unprojected (``<= 1``),
states non-overlap per word (the same set of solutions for intervals) and solves with HiGHS — a stricter
solver of the same objective than greedy, not a copy of their ILP. (The issue that prompted this note read the
reference as having no ILP; it has one.) :class:`~xner.projection.project.MatchingStats` reports how often and
by how much exact and greedy differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from xner.projection.spans import Span, overlaps


@dataclass(frozen=True)
class Matching:
    """Chosen ``(entity index, candidate index)`` pairs and the objective they reach."""

    pairs: tuple[tuple[int, int], ...]
    objective: float

    def candidate_of(self, entity: int) -> int | None:
        """The candidate index matched to ``entity``, or ``None`` when the entity is unmatched."""
        for e, c in self.pairs:
            if e == entity:
                return c
        return None


def _check(scores: np.ndarray, candidates: Sequence[Span]) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2:
        raise ValueError(f"scores must be a 2-D (entities x candidates) array, got shape {scores.shape}")
    if scores.shape[1] != len(candidates):
        raise ValueError(f"scores have {scores.shape[1]} columns but there are {len(candidates)} candidates")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite")
    for s, e in candidates:
        if not 0 <= s < e:
            raise ValueError(f"candidate span ({s}, {e}) is empty or negative")
    return scores


def _objective(scores: np.ndarray, pairs: Sequence[tuple[int, int]]) -> float:
    return float(sum(scores[e, c] for e, c in pairs))


def match_ilp(scores: np.ndarray, candidates: Sequence[Span], *, min_score: float = 0.0) -> Matching:
    """Solve the matching exactly as an integer linear program (``scipy.optimize.milp``, HiGHS)."""
    scores = _check(scores, candidates)
    ents, cands = np.nonzero(scores > min_score)
    if len(ents) == 0:
        return Matching((), 0.0)
    n_var = len(ents)
    n_ent = scores.shape[0]
    rows: list[int] = []
    cols: list[int] = []
    # one candidate per entity: rows 0 .. n_ent-1
    rows.extend(ents.tolist())
    cols.extend(range(n_var))
    # one chosen candidate per target word: rows n_ent + word
    for v, c in enumerate(cands.tolist()):
        s, e = candidates[c]
        rows.extend(n_ent + t for t in range(s, e))
        cols.extend([v] * (e - s))
    n_rows = max(rows) + 1
    a = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_rows, n_var)).tocsr()
    res = milp(
        c=-scores[ents, cands],
        constraints=LinearConstraint(a, -np.inf, 1.0),
        integrality=np.ones(n_var),
        bounds=Bounds(0, 1),
    )
    if res.status != 0 or res.x is None:
        raise RuntimeError(f"milp failed to solve the matching problem: {res.message}")
    chosen = np.flatnonzero(res.x > 0.5)
    pairs = tuple(sorted((int(ents[v]), int(cands[v])) for v in chosen))
    return Matching(pairs, _objective(scores, pairs))


def match_greedy(scores: np.ndarray, candidates: Sequence[Span], *, min_score: float = 0.0) -> Matching:
    """Greedy approximation: take the best pair, drop its entity and overlapping candidates, repeat.

    Ties are broken by entity index, then candidate index, so the result is deterministic.
    """
    scores = _check(scores, candidates)
    ents, cands = np.nonzero(scores > min_score)
    order = sorted(zip(ents.tolist(), cands.tolist(), strict=True), key=lambda p: (-scores[p[0], p[1]], p[0], p[1]))
    used_entities: set[int] = set()
    chosen_spans: list[Span] = []
    pairs: list[tuple[int, int]] = []
    for e, c in order:
        if e in used_entities or any(overlaps(candidates[c], s) for s in chosen_spans):
            continue
        used_entities.add(e)
        chosen_spans.append(candidates[c])
        pairs.append((e, c))
    pairs.sort()
    return Matching(tuple(pairs), _objective(scores, pairs))


def objective_gap(exact: Matching, greedy: Matching) -> float:
    """Relative gap ``(exact - greedy) / exact`` of the objectives (0 when both are 0)."""
    if exact.objective < greedy.objective - 1e-9:
        raise ValueError(
            f"greedy objective {greedy.objective} exceeds the exact one {exact.objective}: not an exact solution"
        )
    if exact.objective == 0:
        return 0.0
    return (exact.objective - greedy.objective) / exact.objective


def match(scores: np.ndarray, candidates: Sequence[Span], *, solver: str = "ilp", min_score: float = 0.0) -> Matching:
    """Dispatch to :func:`match_ilp` (``solver="ilp"``) or :func:`match_greedy` (``solver="greedy"``)."""
    if solver == "ilp":
        return match_ilp(scores, candidates, min_score=min_score)
    if solver == "greedy":
        return match_greedy(scores, candidates, min_score=min_score)
    raise ValueError(f"unknown matching solver {solver!r}; expected 'ilp' or 'greedy'")
