"""Exact (ILP) vs greedy matching of source entities to target candidates."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from xner.projection.match import match, match_greedy, match_ilp, objective_gap
from xner.projection.spans import overlaps


def _brute_force(scores: np.ndarray, cands: list[tuple[int, int]]) -> float:
    """Best objective over every feasible assignment (entity -> candidate or none)."""
    n_ent, n_c = scores.shape
    best = 0.0
    for choice in itertools.product(range(-1, n_c), repeat=n_ent):
        picked = [(e, c) for e, c in enumerate(choice) if c >= 0 and scores[e, c] > 0]
        spans = [cands[c] for _, c in picked]
        if len({c for _, c in picked}) < len(picked):
            continue
        if any(overlaps(a, b) for a, b in itertools.combinations(spans, 2)):
            continue
        best = max(best, sum(scores[e, c] for e, c in picked))
    return best


def _greedy_friendly(rng: np.random.Generator, n_ent: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Each entity's candidates live in its own stretch of the sentence: no conflicts, greedy is optimal."""
    cands: list[tuple[int, int]] = []
    owner: list[int] = []
    for e in range(n_ent):
        base = 10 * e
        for s in range(base, base + 4):
            for length in (1, 2, 3):
                cands.append((s, s + length))
                owner.append(e)
    scores = np.zeros((n_ent, len(cands)))
    for c, e in enumerate(owner):
        scores[e, c] = rng.uniform(0.05, 1.0)
    return scores, cands


@pytest.mark.parametrize("seed", range(5))
def test_ilp_and_greedy_agree_when_greedy_is_optimal(seed):
    scores, cands = _greedy_friendly(np.random.default_rng(seed), n_ent=4)
    exact, greedy = match_ilp(scores, cands), match_greedy(scores, cands)
    assert exact.pairs == greedy.pairs
    assert exact.objective == pytest.approx(greedy.objective)
    assert objective_gap(exact, greedy) == pytest.approx(0.0)
    # and each entity got its best candidate
    assert [scores[e, c] for e, c in exact.pairs] == pytest.approx(scores.max(axis=1).tolist())


def test_exact_beats_greedy_on_a_built_case():
    # entity A: (0,2) scores 0.9, (0,1) scores 0.8; entity B: only (1,2), 0.85.
    # greedy takes A-(0,2) first and blocks B (0.9); the optimum is A-(0,1) + B-(1,2) = 1.65.
    cands = [(0, 2), (0, 1), (1, 2)]
    scores = np.array([[0.9, 0.8, 0.0], [0.0, 0.0, 0.85]])
    greedy = match_greedy(scores, cands)
    exact = match_ilp(scores, cands)
    assert greedy.pairs == ((0, 0),) and greedy.objective == pytest.approx(0.9)
    assert exact.pairs == ((0, 1), (1, 2)) and exact.objective == pytest.approx(1.65)
    assert objective_gap(exact, greedy) == pytest.approx((1.65 - 0.9) / 1.65)


@pytest.mark.parametrize("seed", range(8))
def test_ilp_is_exact_on_random_small_problems(seed):
    rng = np.random.default_rng(100 + seed)
    n_words = 6
    cands = [(s, e) for s in range(n_words) for e in range(s + 1, min(n_words, s + 3) + 1)]
    scores = np.where(rng.random((3, len(cands))) < 0.3, rng.random((3, len(cands))), 0.0)
    exact = match_ilp(scores, cands)
    assert exact.objective == pytest.approx(_brute_force(scores, cands))
    greedy = match_greedy(scores, cands)
    assert greedy.objective <= exact.objective + 1e-9
    chosen = [cands[c] for _, c in exact.pairs]
    assert not any(overlaps(a, b) for a, b in itertools.combinations(chosen, 2))
    assert len({e for e, _ in exact.pairs}) == len(exact.pairs)


def test_min_score_and_empty_problems():
    cands = [(0, 1), (1, 2)]
    scores = np.array([[0.2, 0.1]])
    assert match_ilp(scores, cands, min_score=0.5).pairs == ()
    assert match_greedy(scores, cands, min_score=0.5).pairs == ()
    assert match_ilp(np.zeros((0, 2)), cands).objective == 0.0


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="columns"):
        match_ilp(np.zeros((1, 3)), [(0, 1)])
    with pytest.raises(ValueError, match="solver"):
        match(np.zeros((1, 1)), [(0, 1)], solver="lp")
    with pytest.raises(ValueError, match="empty"):
        match_greedy(np.ones((1, 1)), [(2, 2)])
