"""Back-translation refinement: carry marked translations onto a given target sentence, and combine.

The labelled sentence is translated into the target language with markers around its entities
(:func:`xner.projection.mark.mark_then_translate`); that marked translation and the target sentence are in
the *same* language, so aligning them (:class:`~xner.projection.align.StringAligner`, or an embedding
aligner) is easier than aligning across languages. The marked spans are carried onto the target sentence
with the alignment heuristic (:func:`transfer_marked`), and :func:`refine` combines that projection with a
base projection (from cross-lingual alignments), entity by entity:

* ``"fill"`` — keep the base projection; an entity the base dropped takes the back-translation's spans;
* ``"prefer-bt"`` — take the back-translation's spans where it projected the entity, else the base's;
* ``"agree"`` — keep an entity only where both projections give the same spans (precision first).

Spans that would overlap spans already kept are discarded and the entity counted as ``"overlap"``.

This is not Politov et al. (2025)'s back-translation refinement: theirs replaces the cross-lingual alignment by
one obtained through a marker back-translation, for every entity; ``"fill"`` (the default of method
``"heuristic+bt"``) keeps the cross-lingual projection and only fills the entities it dropped, and the marked
translation here comes from Apertium and is carried onto the target by string matching.
"""

from __future__ import annotations

from collections.abc import Sequence

from xner.projection.align import Aligner
from xner.projection.heuristic import project_entity
from xner.projection.mark import MarkedTranslation
from xner.projection.spans import EntityOutcome, SentenceProjection, resolve_overlaps

REFINE_MODES = ("fill", "prefer-bt", "agree")


def transfer_marked(
    marked: Sequence[MarkedTranslation],
    targets: Sequence[Sequence[str]],
    aligner: Aligner,
    *,
    merge_distance: int = 1,
    length_ratio_threshold: float = 0.8,
) -> list[SentenceProjection]:
    """Project the spans of marked translations onto the given target sentences (same language).

    Outcomes refer to the original *source* entities: an entity already dropped by mark-then-translate
    stays dropped with its reason; one whose marked span does not carry over is dropped as
    ``"unaligned"`` / ``"too short"``.
    """
    if len(marked) != len(targets):
        raise ValueError(f"{len(marked)} marked translations but {len(targets)} target sentences")
    alignments = aligner.align([m.tokens for m in marked], targets)
    out = []
    for k, (m, tgt, links) in enumerate(zip(marked, targets, alignments, strict=True)):
        proposals = []
        for o in m.outcomes:
            if o.status == "dropped":
                proposals.append((o.source, [], o.reason))
                continue
            spans, reasons = [], []
            for mt_ent in o.targets:
                found, reason = project_entity(
                    mt_ent, links, merge_distance=merge_distance, length_ratio_threshold=length_ratio_threshold
                )
                spans.extend(found)
                reasons.append(reason)
            proposals.append((o.source, spans, "" if spans else reasons[0]))
        out.append(resolve_overlaps(k, proposals, len(tgt)))
    return out


def refine(
    base: Sequence[SentenceProjection],
    back: Sequence[SentenceProjection],
    n_target_words: Sequence[int],
    *,
    mode: str = "fill",
) -> list[SentenceProjection]:
    """Combine a base projection with a back-translation projection of the same source entities."""
    if mode not in REFINE_MODES:
        raise ValueError(f"unknown refinement mode {mode!r}; expected one of {REFINE_MODES}")
    if not len(base) == len(back) == len(n_target_words):
        raise ValueError(f"{len(base)} base, {len(back)} back-translation projections, {len(n_target_words)} sizes")
    out = []
    for k, (b, t, n) in enumerate(zip(base, back, n_target_words, strict=True)):
        if [o.source for o in b.outcomes] != [o.source for o in t.outcomes]:
            raise ValueError(f"sentence {k}: the two projections are of different source entities")
        proposals = []
        for ob, ot in zip(b.outcomes, t.outcomes, strict=True):
            proposals.append(_choose(ob, ot, mode))
        out.append(resolve_overlaps(k, proposals, n))
    return out


def _choose(base: EntityOutcome, back: EntityOutcome, mode: str) -> tuple:
    if mode == "fill":
        pick = base if base.targets or not back.targets else back
    elif mode == "prefer-bt":
        pick = back if back.targets else base
    else:  # agree
        if base.targets and set(base.targets) == set(back.targets):
            return (base.source, list(base.targets), "")
        return (base.source, [], "projections disagree")
    return (base.source, list(pick.targets), pick.reason)
