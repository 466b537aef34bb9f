"""Entity spans, projection outcomes and the projection report shared by every projection method.

Indexing convention (used by every module of :mod:`xner.projection`): words are 0-based positions in the
token lists of a sentence; a span is ``(start, end)`` with ``end`` exclusive; an entity is a typed span.

Every source entity gets exactly one :class:`EntityOutcome`, so an entity that cannot be projected is
counted (status ``"dropped"`` with a reason), never silently lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from xner.metrics import get_entities

Span = tuple[int, int]

#: Outcome statuses: one target span; several target spans (all labelled); nothing labelled.
STATUSES = ("projected", "split", "dropped")


@dataclass(frozen=True)
class Entity:
    """A typed span ``[start, end)`` of words in one sentence."""

    type: str
    start: int
    end: int

    @property
    def span(self) -> Span:
        """The ``(start, end)`` pair, end exclusive."""
        return (self.start, self.end)

    def __len__(self) -> int:
        return self.end - self.start


def entities_from_tags(tags: Sequence[str]) -> list[Entity]:
    """Return the entities of one IOB2 tag sequence (strict IOB2, as :func:`xner.metrics.get_entities`)."""
    return [Entity(t, s, e) for t, s, e in get_entities(list(tags))]


def tags_from_entities(entities: Sequence[Entity], n_words: int) -> list[str]:
    """Write entities as IOB2 tags over ``n_words`` words.

    Raises ``ValueError`` if an entity lies outside the sentence or two entities overlap: callers resolve
    overlaps explicitly (and count them) before writing tags.
    """
    tags = ["O"] * n_words
    for ent in sorted(entities, key=lambda e: e.start):
        if not 0 <= ent.start < ent.end <= n_words:
            raise ValueError(f"entity {ent} lies outside a sentence of {n_words} words")
        if any(t != "O" for t in tags[ent.start : ent.end]):
            raise ValueError(f"entity {ent} overlaps another entity; resolve overlaps before writing tags")
        tags[ent.start] = f"B-{ent.type}"
        for i in range(ent.start + 1, ent.end):
            tags[i] = f"I-{ent.type}"
    return tags


def overlaps(a: Span, b: Span) -> bool:
    """True when the half-open spans ``a`` and ``b`` share at least one word."""
    return a[0] < b[1] and b[0] < a[1]


@dataclass(frozen=True)
class EntityOutcome:
    """What happened to one source entity: its target spans (empty when dropped) and why."""

    sentence: int
    source: Entity
    status: str
    targets: tuple[Entity, ...] = ()
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown outcome status {self.status!r}; expected one of {STATUSES}")
        if (self.status == "dropped") != (len(self.targets) == 0):
            raise ValueError(f"status {self.status!r} does not fit {len(self.targets)} target spans")


@dataclass
class ProjectionReport:
    """Counts of source entities projected, split over several target spans, and dropped (by reason)."""

    n_sentences: int = 0
    n_source_entities: int = 0
    projected: int = 0
    split: int = 0
    dropped: int = 0
    dropped_reasons: Counter[str] = field(default_factory=Counter)
    per_type: dict[str, Counter[str]] = field(default_factory=dict)

    @classmethod
    def from_outcomes(cls, outcomes: Sequence[EntityOutcome], n_sentences: int) -> ProjectionReport:
        """Aggregate per-entity outcomes into counts (overall, per reason, per entity type)."""
        rep = cls(n_sentences=n_sentences)
        for o in outcomes:
            rep.n_source_entities += 1
            setattr(rep, o.status, getattr(rep, o.status) + 1)
            if o.status == "dropped":
                rep.dropped_reasons[o.reason or "unspecified"] += 1
            rep.per_type.setdefault(o.source.type, Counter())[o.status] += 1
        return rep

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary of the report."""
        return {
            "n_sentences": self.n_sentences,
            "n_source_entities": self.n_source_entities,
            "projected": self.projected,
            "split": self.split,
            "dropped": self.dropped,
            "dropped_reasons": dict(sorted(self.dropped_reasons.items())),
            "per_type": {t: dict(sorted(c.items())) for t, c in sorted(self.per_type.items())},
        }

    def __str__(self) -> str:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.dropped_reasons.items())) or "none"
        return (
            f"{self.n_source_entities} source entities in {self.n_sentences} sentences: "
            f"{self.projected} projected, {self.split} split, {self.dropped} dropped ({reasons})"
        )


@dataclass
class SentenceProjection:
    """The projected target tags of one sentence and the outcome of each of its source entities."""

    tags: list[str]
    outcomes: list[EntityOutcome]


def resolve_overlaps(
    sentence: int, proposals: Sequence[tuple[Entity, list[Entity], str]], n_words: int
) -> SentenceProjection:
    """Turn per-entity proposals ``(source, target_spans, drop_reason)`` into tags and outcomes.

    Proposals are taken in source order; a target span overlapping a span already taken by an earlier
    entity is discarded, and an entity left with no span is dropped with reason ``"overlap"``. An entity
    proposed with no span is dropped with the given reason.
    """
    taken: list[Entity] = []
    outcomes: list[EntityOutcome] = []
    for source, targets, reason in proposals:
        kept = [t for t in targets if not any(overlaps(t.span, u.span) for u in taken)]
        if not targets:
            outcomes.append(EntityOutcome(sentence, source, "dropped", (), reason or "no target span"))
        elif not kept:
            outcomes.append(EntityOutcome(sentence, source, "dropped", (), "overlap"))
        else:
            taken.extend(kept)
            status = "projected" if len(kept) == 1 else "split"
            outcomes.append(EntityOutcome(sentence, source, status, tuple(kept)))
    return SentenceProjection(tags_from_entities(taken, n_words), outcomes)
