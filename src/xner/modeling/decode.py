"""Decoding label sequences that are valid strict IOB2: the allowed transitions and one Viterbi, shared by
constrained arg-max decoding of a softmax head and by the CRF head (:mod:`xner.modeling.crf_head`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def allowed_transitions(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strict IOB2 constraints: ``(start_ok[j], trans_ok[i, j])`` — ``I-X`` may only follow ``B-X`` or ``I-X``."""
    n = len(labels)
    start = np.array([not lab.startswith("I-") for lab in labels])
    trans = np.ones((n, n), dtype=bool)
    for j, lab in enumerate(labels):
        if lab.startswith("I-"):
            for i, prev in enumerate(labels):
                trans[i, j] = prev in ("B-" + lab[2:], lab)
    return start, trans


def viterbi(emissions: np.ndarray, start: np.ndarray, end: np.ndarray, trans: np.ndarray) -> list[int]:
    """Highest-scoring label sequence of one sentence: ``emissions`` ``[n_words, n_labels]`` plus ``start[j]``,
    ``trans[i, j]`` (previous label i → label j) and ``end[j]`` scores."""
    n = len(emissions)
    if n == 0:
        return []
    score = start + emissions[0]
    back = np.zeros((n, len(start)), dtype=np.int64)
    for t in range(1, n):
        cand = score[:, None] + trans  # previous label × next label
        back[t] = cand.argmax(axis=0)
        score = cand.max(axis=0) + emissions[t]
    best = [int((score + end).argmax())]
    for t in range(n - 1, 0, -1):
        best.append(int(back[t, best[-1]]))
    return best[::-1]


def constrained_decode(logits: np.ndarray, labels: Sequence[str]) -> list[int]:
    """The label sequence of highest total log-probability that is valid strict IOB2 (Viterbi over words).

    Arg-max per word can produce ``I-X`` after ``O``, which strict scoring drops; this decoding picks the best
    valid sequence instead, using the model's own per-word probabilities (no learned transitions).
    """
    if len(logits) == 0:
        return []
    lp = logits - logits.max(axis=-1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(axis=-1, keepdims=True))
    start, trans = allowed_transitions(labels)
    neg = -1e30
    return viterbi(lp, np.where(start, 0.0, neg), np.zeros(len(labels)), np.where(trans, 0.0, neg))
