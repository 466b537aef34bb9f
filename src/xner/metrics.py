"""Span-level NER scores: strict IOB2 micro P/R/F1 (the headline), the lenient conlleval reading beside it,
per-type scores, percentile-bootstrap confidence intervals over sentences, and a paired bootstrap test.

The strict score equals ``seqeval.metrics.f1_score(..., mode="strict", scheme=IOB2)``: an entity is a ``B-X``
followed by ``I-X`` tokens; an ``I-`` that does not continue an entity of its type belongs to no entity.
The lenient score reads tags as conlleval does (such an ``I-`` starts an entity). Both are re-implemented here
(not called from seqeval) because the bootstrap needs per-sentence counts that seqeval does not expose, and
calling seqeval once per resample is orders of magnitude slower; the tests check equality with seqeval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from xner.labels import spans_from_tags

#: The columns of every evaluation row, whatever stage writes it (training 04, adversarial 05, domain shift, dial):
#: who was trained on what, what was scored, and the strict span scores with their bootstrap CI.
EVAL_SCHEMA = (
    "source",
    "target",
    "setting",
    "model",
    "seed",
    "eval_lang",
    "eval_dataset",
    "eval_split",
    "perturbation",
    "n_sentences",
    "precision",
    "recall",
    "f1",
    "f1_low",
    "f1_high",
    "lenient_f1",
)

MODES = ("strict", "lenient")

Tags = Sequence[Sequence[str]]


class ScoringError(ValueError):
    """Gold and predicted tags cannot be scored together."""


def get_entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Return the entities of one sentence in strict IOB2 as ``(type, start, end_exclusive)``."""
    out: list[tuple[str, int, int]] = []
    typ: str | None = None
    start = 0
    for i, tag in enumerate(tags):
        if typ is not None and tag == "I-" + typ:
            continue
        if typ is not None:
            out.append((typ, start, i))
            typ = None
        if tag.startswith("B-"):
            typ, start = tag[2:], i
        elif tag != "O" and not tag.startswith("I-"):
            raise ScoringError(f"tag {tag!r} at position {i} is not an IOB2 tag (O, B-TYPE, I-TYPE)")
    if typ is not None:
        out.append((typ, start, len(tags)))
    return out


def _entities(tags: Sequence[str], mode: str) -> list[tuple[str, int, int]]:
    if mode == "strict":
        return get_entities(tags)
    if mode == "lenient":
        return spans_from_tags(tags, "IOB2")
    raise ScoringError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")


@dataclass
class Score:
    """Precision, recall and F1 with the counts behind them; ``per_type`` holds one :class:`Score` per type."""

    precision: float
    recall: float
    f1: float
    n_gold: int
    n_pred: int
    n_correct: int
    mode: str = "strict"
    per_type: dict[str, Score] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float | int | str]:
        """The overall scores as a flat dict (no per-type entries)."""
        return {k: getattr(self, k) for k in ("precision", "recall", "f1", "n_gold", "n_pred", "n_correct", "mode")}


def _prf(c: int, g: int, p: int, mode: str) -> Score:
    prec = c / p if p else 0.0
    rec = c / g if g else 0.0
    f1 = 2 * c / (g + p) if g + p else 0.0
    return Score(prec, rec, f1, g, p, c, mode)


def _check_sentence(sent: object, i: int, which: str) -> None:
    """Refuse a sentence that is not a sequence of tag strings (None, NaN and ints included), naming it."""
    if isinstance(sent, str | bytes) or not (hasattr(sent, "__len__") and hasattr(sent, "__iter__")):
        raise ScoringError(
            f"{which} sentence {i} is {type(sent).__name__} {sent!r:.60}, not a list of tags; "
            "pass one list of IOB2 tag strings per sentence"
        )
    for j, tag in enumerate(sent):
        if not isinstance(tag, str):
            raise ScoringError(
                f"{which} sentence {i}, token {j}: tag {tag!r} is {type(tag).__name__}, not a string; "
                "convert ids to tag names first (e.g. xner.data.tag_names) and fill missing tags"
            )


def _check(gold: Tags, pred: Tags) -> None:
    if len(gold) != len(pred):
        raise ScoringError(f"gold has {len(gold)} sentences but predictions have {len(pred)}")
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        _check_sentence(g, i, "gold")
        _check_sentence(p, i, "predicted")
        if len(g) != len(p):
            raise ScoringError(f"sentence {i}: gold has {len(g)} tags but the prediction has {len(p)}")


def _check_bootstrap(n_resamples: int, confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ScoringError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}")
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise ScoringError(f"n_resamples must be a positive whole number, got {n_resamples!r}")


def sentence_counts(gold: Tags, pred: Tags, mode: str = "strict") -> np.ndarray:
    """Per-sentence counts ``[n_gold, n_pred, n_correct]`` (an ``(n, 3)`` int array), the unit of resampling."""
    _check(gold, pred)
    out = np.zeros((len(gold), 3), dtype=np.int64)
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        ge, pe = _entities(g, mode), _entities(p, mode)
        out[i, 0], out[i, 1] = len(ge), len(pe)
        out[i, 2] = len(set(ge) & set(pe))
    return out


def _refuse_empty(n_gold: int) -> None:
    if n_gold == 0:
        raise ScoringError("the gold set has no entities: span F1 is undefined; check the label mapping or the split")


def score(gold: Tags, pred: Tags, mode: str = "strict") -> Score:
    """Micro-averaged span P/R/F1 over all sentences, with per-type scores.

    ``mode="strict"`` is seqeval's strict IOB2 mode (the headline metric); ``"lenient"`` is conlleval's reading.
    A gold set with no entities is an error.
    """
    _check(gold, pred)
    tot = np.zeros(3, dtype=np.int64)
    per: dict[str, np.ndarray] = {}
    for g, p in zip(gold, pred, strict=True):
        ge, pe = set(_entities(g, mode)), set(_entities(p, mode))
        for e in ge:
            per.setdefault(e[0], np.zeros(3, dtype=np.int64))[0] += 1
        for e in pe:
            per.setdefault(e[0], np.zeros(3, dtype=np.int64))[1] += 1
        for e in ge & pe:
            per[e[0]][2] += 1
        tot += (len(ge), len(pe), len(ge & pe))
    _refuse_empty(int(tot[0]))
    out = _prf(int(tot[2]), int(tot[0]), int(tot[1]), mode)
    out.per_type = {t: _prf(int(c[2]), int(c[0]), int(c[1]), mode) for t, c in sorted(per.items())}
    return out


@dataclass(frozen=True)
class CI:
    """A point estimate with a percentile-bootstrap confidence interval."""

    point: float
    low: float
    high: float
    confidence: float = 0.95
    n_resamples: int = 1000


def _f1_stat(g: np.ndarray, p: np.ndarray, c: np.ndarray, axis: int = -1) -> np.ndarray:
    denom = g.sum(axis=axis) + p.sum(axis=axis)
    return np.divide(2.0 * c.sum(axis=axis), denom, out=np.zeros(np.shape(denom), dtype=float), where=denom > 0)


def _bootstrap(data: tuple[np.ndarray, ...], statistic, n_resamples: int, confidence: float, seed: int):
    return stats.bootstrap(
        data,
        statistic,
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        random_state=np.random.default_rng(seed),
        batch=max(1, 2_000_000 // max(1, len(data[0]))),
    )


def bootstrap_ci(
    gold: Tags, pred: Tags, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0, mode: str = "strict"
) -> CI:
    """Span F1 with a percentile-bootstrap CI, resampling sentences with replacement (``scipy.stats.bootstrap``)."""
    _check_bootstrap(n_resamples, confidence)
    counts = sentence_counts(gold, pred, mode)
    _refuse_empty(int(counts[:, 0].sum()))
    point = float(_f1_stat(counts[:, 0], counts[:, 1], counts[:, 2]))
    if len(counts) < 2:
        return CI(point, point, point, confidence, n_resamples)
    res = _bootstrap((counts[:, 0], counts[:, 1], counts[:, 2]), _f1_stat, n_resamples, confidence, seed)
    return CI(point, float(res.confidence_interval.low), float(res.confidence_interval.high), confidence, n_resamples)


@dataclass(frozen=True)
class PairedResult:
    """F1(a) − F1(b) on the same sentences, its bootstrap CI and a two-sided bootstrap p-value."""

    delta: float
    low: float
    high: float
    p_value: float
    n_resamples: int = 1000


def _delta_stat(ga, pa, ca, gb, pb, cb, axis: int = -1):
    return _f1_stat(ga, pa, ca, axis) - _f1_stat(gb, pb, cb, axis)


def paired_bootstrap(
    gold: Tags,
    pred_a: Tags,
    pred_b: Tags,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    mode: str = "strict",
    gold_b: Tags | None = None,
) -> PairedResult:
    """Paired bootstrap test of F1(a) − F1(b): the same resampled sentences score both systems.

    ``gold_b`` scores system b against other gold tags of the same sentences (for a perturbed copy of a test
    set whose entities changed length); by default both use ``gold``. The p-value is two-sided:
    twice the smaller share of resampled differences on either side of zero (capped at 1).
    """
    _check_bootstrap(n_resamples, confidence)
    a = sentence_counts(gold, pred_a, mode)
    b = sentence_counts(gold if gold_b is None else gold_b, pred_b, mode)
    if len(a) != len(b):
        raise ScoringError(f"paired test needs the same sentences: {len(a)} vs {len(b)}")
    _refuse_empty(int(a[:, 0].sum()))
    _refuse_empty(int(b[:, 0].sum()))
    data = (a[:, 0], a[:, 1], a[:, 2], b[:, 0], b[:, 1], b[:, 2])
    delta = float(_delta_stat(*data))
    if len(a) < 2:
        return PairedResult(delta, delta, delta, 1.0, n_resamples)
    res = _bootstrap(data, _delta_stat, n_resamples, confidence, seed)
    dist = res.bootstrap_distribution
    p = min(1.0, 2 * min(float(np.mean(dist <= 0)), float(np.mean(dist >= 0))))
    return PairedResult(delta, float(res.confidence_interval.low), float(res.confidence_interval.high), p, n_resamples)
