"""Run one projection method over a parallel corpus: source tokens + IOB2 tags → target tags + report.

Methods (:data:`METHODS`):

* ``"heuristic"`` — word-alignment heuristic as in Politov et al. (2025)'s code
  (:mod:`xner.projection.heuristic`); needs alignments;
* ``"heuristic-gf"`` — the rules of García-Ferrero et al. (2022) (punctuation links removed, largest group only,
  no length-ratio filter); needs alignments;
* ``"ngram"`` — n-gram candidates scored against each source entity and matched by ``solver``: ``"greedy"`` is
  the greedy matching of Politov et al. (2025)'s code, ``"ilp"`` the exact solution of the same objective
  (their ILP requires each entity to be projected once; this one lets an entity go unprojected, see
  :mod:`xner.projection.match`); needs alignments unless only string/likelihood weights are set;
* ``"model"`` — like ``"ngram"`` with the spans a NER ``predictor`` finds on the target as candidates;
* ``"mark"`` — mark-then-translate (EasyProject) with a ``translator``, carried onto the given target by a
  same-language aligner (:mod:`xner.projection.refine`);
* ``"heuristic+bt"`` — the heuristic refined by back-translation (``refine_mode``): with the default
  ``"fill"`` it only fills entities the cross-lingual projection dropped, from a marker translation (Apertium)
  carried onto the target by string matching. This is *not* Politov et al.'s back-translation refinement,
  which replaces the cross-lingual alignment by one through a marker back-translation; numbers of this method
  are not comparable with theirs.

Every source entity gets one outcome (projected / split / dropped with a reason), aggregated in the
:class:`~xner.projection.spans.ProjectionReport`. For the matching methods the other solver runs too when
``compare_solvers`` is set, and :class:`MatchingStats` reports the objective gap and the time of each.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from xner.projection.align import Aligner, Alignment, StringAligner
from xner.projection.candidates import (
    Predictor,
    TranslationScorer,
    dice_scores,
    likelihood_scores,
    model_candidates,
    ngram_candidates,
    string_scores,
)
from xner.projection.heuristic import project_sentence, project_sentence_gf
from xner.projection.mark import mark_then_translate
from xner.projection.match import Matching, match
from xner.projection.refine import REFINE_MODES, refine, transfer_marked
from xner.projection.spans import (
    Entity,
    EntityOutcome,
    ProjectionReport,
    SentenceProjection,
    entities_from_tags,
    resolve_overlaps,
)
from xner.projection.translate import Translator

METHODS = ("heuristic", "heuristic-gf", "ngram", "model", "mark", "heuristic+bt")
SOLVERS = ("ilp", "greedy")


@dataclass
class ProjectionConfig:
    """Settings of a projection method (defaults: the published ones where there are any)."""

    method: str = "heuristic"
    merge_distance: int = 1
    length_ratio_threshold: float = 0.8
    solver: str = "ilp"
    max_ngram: int = 8
    min_score: float = 0.0
    dice_weight: float = 1.0
    string_weight: float = 0.0
    likelihood_weight: float = 0.0
    refine_mode: str = "fill"
    compare_solvers: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown projection method {self.method!r}; expected one of {METHODS}")
        if self.solver not in SOLVERS:
            raise ValueError(f"unknown solver {self.solver!r}; expected one of {SOLVERS}")
        if self.refine_mode not in REFINE_MODES:
            raise ValueError(f"unknown refine_mode {self.refine_mode!r}; expected one of {REFINE_MODES}")
        if min(self.dice_weight, self.string_weight, self.likelihood_weight) < 0:
            raise ValueError("score weights must be >= 0")

    @property
    def label(self) -> str:
        """A short name of the method and solver, for tables."""
        if self.method in ("ngram", "model"):
            return f"{self.method}-{self.solver}"
        return self.method


@dataclass
class MatchingStats:
    """Exact vs greedy matching over a corpus: objectives, gap, disagreements, seconds spent."""

    n_problems: int = 0
    objective_ilp: float = 0.0
    objective_greedy: float = 0.0
    n_different: int = 0
    seconds_ilp: float = 0.0
    seconds_greedy: float = 0.0

    @property
    def gap(self) -> float:
        """Relative objective gap ``(ilp - greedy) / ilp`` summed over the corpus."""
        return 0.0 if self.objective_ilp == 0 else (self.objective_ilp - self.objective_greedy) / self.objective_ilp

    def as_dict(self) -> dict[str, float]:
        """The stats and the gap as a flat dictionary."""
        return {**asdict(self), "gap": self.gap}


@dataclass
class CorpusProjection:
    """Projected target tags, one outcome per source entity, the report, timings and matching stats."""

    tags: list[list[str]]
    outcomes: list[EntityOutcome]
    report: ProjectionReport
    timings: dict[str, float] = field(default_factory=dict)
    matching: MatchingStats | None = None


def check_corpus(
    src_tokens: Sequence[Sequence[str]], src_tags: Sequence[Sequence[str]], tgt_tokens: Sequence[Sequence[str]]
) -> None:
    """Raise ``ValueError`` unless source tokens, tags and target tokens line up and no sentence is empty."""
    if not len(src_tokens) == len(src_tags) == len(tgt_tokens):
        raise ValueError(
            f"{len(src_tokens)} source sentences, {len(src_tags)} tag sequences and {len(tgt_tokens)} target "
            "sentences: a parallel corpus needs one target sentence per source sentence"
        )
    for k, (s, t, g) in enumerate(zip(src_tokens, src_tags, tgt_tokens, strict=True)):
        if len(s) == 0 or len(g) == 0:
            raise ValueError(f"sentence {k} is empty on the {'source' if len(s) == 0 else 'target'} side")
        if len(s) != len(t):
            raise ValueError(f"sentence {k}: {len(s)} source words but {len(t)} tags")


def _need(value: object, what: str, method: str) -> None:
    if value is None:
        raise ValueError(f"projection method {method!r} needs {what}")


def project_corpus(
    src_tokens: Sequence[Sequence[str]],
    src_tags: Sequence[Sequence[str]],
    tgt_tokens: Sequence[Sequence[str]],
    config: ProjectionConfig | None = None,
    *,
    alignments: Sequence[Alignment] | None = None,
    predictor: Predictor | None = None,
    translator: Translator | None = None,
    scorer: TranslationScorer | None = None,
    mono_aligner: Aligner | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
) -> CorpusProjection:
    """Project source tags onto the target sentences with the method of ``config``."""
    cfg = config or ProjectionConfig()
    check_corpus(src_tokens, src_tags, tgt_tokens)
    if alignments is not None and len(alignments) != len(src_tokens):
        raise ValueError(f"{len(alignments)} alignments for {len(src_tokens)} sentence pairs")
    timings: dict[str, float] = {}
    stats: MatchingStats | None = None
    n_tgt = [len(t) for t in tgt_tokens]
    t0 = time.perf_counter()
    if cfg.method in ("heuristic", "heuristic+bt"):
        _need(alignments, "word alignments (alignments=aligner.align(src, tgt))", cfg.method)
        sents = _heuristic(src_tags, n_tgt, alignments, cfg)
        timings["heuristic"] = time.perf_counter() - t0
        if cfg.method == "heuristic+bt":
            back = _marked_onto_target(
                src_tokens, src_tags, tgt_tokens, cfg, translator, mono_aligner, src_lang, tgt_lang, timings
            )
            sents = refine(sents, back, n_tgt, mode=cfg.refine_mode)
    elif cfg.method == "heuristic-gf":
        _need(alignments, "word alignments (alignments=aligner.align(src, tgt))", cfg.method)
        sents = [
            project_sentence_gf(s, t, g, a, sentence=k)
            for k, (s, t, g, a) in enumerate(zip(src_tokens, src_tags, tgt_tokens, alignments, strict=True))
        ]
        timings["heuristic"] = time.perf_counter() - t0
    elif cfg.method in ("ngram", "model"):
        if cfg.dice_weight > 0:
            _need(alignments, "word alignments for the Dice score (or set dice_weight=0)", cfg.method)
        if cfg.likelihood_weight > 0:
            _need(scorer, "a translation scorer for likelihood_weight > 0", cfg.method)
            _need(src_lang and tgt_lang, "src_lang and tgt_lang for the likelihood score", cfg.method)
        if cfg.method == "model":
            _need(predictor, "a NER predictor on the target language (predictor=...)", cfg.method)
            cands = model_candidates(predictor, tgt_tokens)
            timings["candidates"] = time.perf_counter() - t0
        else:
            cands = [ngram_candidates(n, cfg.max_ngram) for n in n_tgt]
        sents, stats = _matching(
            src_tokens, src_tags, tgt_tokens, cands, alignments, cfg, scorer, src_lang, tgt_lang, timings
        )
    else:  # mark
        sents = _marked_onto_target(
            src_tokens, src_tags, tgt_tokens, cfg, translator, mono_aligner, src_lang, tgt_lang, timings
        )
    timings["total"] = time.perf_counter() - t0
    outcomes = [o for s in sents for o in s.outcomes]
    return CorpusProjection(
        [s.tags for s in sents], outcomes, ProjectionReport.from_outcomes(outcomes, len(sents)), timings, stats
    )


def _heuristic(src_tags, n_tgt, alignments, cfg: ProjectionConfig) -> list[SentenceProjection]:
    return [
        project_sentence(
            tags,
            n,
            links,
            sentence=k,
            merge_distance=cfg.merge_distance,
            length_ratio_threshold=cfg.length_ratio_threshold,
        )
        for k, (tags, n, links) in enumerate(zip(src_tags, n_tgt, alignments, strict=True))
    ]


def _marked_onto_target(src_tokens, src_tags, tgt_tokens, cfg, translator, mono_aligner, src_lang, tgt_lang, timings):
    _need(translator, "a translator (translator=...) for the marked translation", cfg.method)
    _need(src_lang and tgt_lang, "src_lang and tgt_lang for translation", cfg.method)
    t0 = time.perf_counter()
    marked = mark_then_translate(src_tokens, src_tags, translator, src_lang, tgt_lang)
    timings["mark-then-translate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = transfer_marked(
        marked,
        tgt_tokens,
        mono_aligner or StringAligner(),
        merge_distance=cfg.merge_distance,
        length_ratio_threshold=cfg.length_ratio_threshold,
    )
    timings["transfer"] = time.perf_counter() - t0
    return out


def score_matrix(
    entities: Sequence[Entity],
    candidates: Sequence[tuple[int, int]],
    src: Sequence[str],
    tgt: Sequence[str],
    links: Alignment | None,
    cfg: ProjectionConfig,
    scorer: TranslationScorer | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
):
    """Weighted entity x candidate scores of one sentence (Dice, string similarity, likelihood)."""
    import numpy as np

    total = np.zeros((len(entities), len(candidates)))
    if cfg.dice_weight > 0:
        total += cfg.dice_weight * dice_scores(entities, candidates, links or ())
    if cfg.string_weight > 0:
        total += cfg.string_weight * string_scores(entities, candidates, src, tgt)
    if cfg.likelihood_weight > 0:
        total += cfg.likelihood_weight * likelihood_scores(
            scorer, entities, candidates, src, tgt, src_lang=src_lang, tgt_lang=tgt_lang
        )
    return total


def _matching(src_tokens, src_tags, tgt_tokens, cands, alignments, cfg, scorer, src_lang, tgt_lang, timings):
    t_scores = 0.0
    stats = MatchingStats()
    out: list[SentenceProjection] = []
    other = "greedy" if cfg.solver == "ilp" else "ilp"
    for k, (src, tags, tgt, cand) in enumerate(zip(src_tokens, src_tags, tgt_tokens, cands, strict=True)):
        ents = entities_from_tags(tags)
        if not ents:
            out.append(SentenceProjection(["O"] * len(tgt), []))
            continue
        t0 = time.perf_counter()
        links = alignments[k] if alignments is not None else None
        scores = score_matrix(ents, cand, src, tgt, links, cfg, scorer, src_lang, tgt_lang)
        t_scores += time.perf_counter() - t0
        results: dict[str, Matching] = {}
        for solver in [cfg.solver] + ([other] if cfg.compare_solvers else []):
            t0 = time.perf_counter()
            results[solver] = match(scores, cand, solver=solver, min_score=cfg.min_score)
            setattr(stats, f"seconds_{solver}", getattr(stats, f"seconds_{solver}") + time.perf_counter() - t0)
        if cfg.compare_solvers:
            stats.n_problems += 1
            stats.objective_ilp += results["ilp"].objective
            stats.objective_greedy += results["greedy"].objective
            stats.n_different += results["ilp"].pairs != results["greedy"].pairs
        chosen = results[cfg.solver]
        proposals = []
        for i, ent in enumerate(ents):
            c = chosen.candidate_of(i)
            if c is None:
                reason = "no candidate" if not (scores[i] > cfg.min_score).any() else "lost in matching"
                proposals.append((ent, [], reason))
            else:
                proposals.append((ent, [Entity(ent.type, *cand[c])], ""))
        out.append(resolve_overlaps(k, proposals, len(tgt)))
    timings["scores"] = t_scores
    timings["matching"] = stats.seconds_ilp if cfg.solver == "ilp" else stats.seconds_greedy
    return out, (stats if cfg.compare_solvers else None)
