"""Unseen-entity replacement: test entities seen in the source training data → same-type entities that are not.

Manafi & Krishnaswamy (2024) find that transfer F1 tracks how many test entities the source training data
already contains. This perturbation removes that overlap: every entity of the target test set whose surface
form (case-folded by default) also occurs as an entity in the source training data is replaced, with
probability ``rate``, by an entity of the same type drawn from a pool of entities that do not occur there
(typically the target training entities minus the source ones). A type with no pool entity cannot be
replaced; those entities are counted in ``report.entities_unavailable`` and the run is marked not applied
when nothing at all could be replaced.

Against P1 of Manafi & Krishnaswamy (2024) as their generation notebook does it (csu-signal/xlingual-robustness):
the reference matches surfaces case-sensitively, ignores the type when deciding "seen" (as ``match_type=False``
here) and draws replacements from the *target test* entities that source training lacks. This project's defaults
differ in two of these — ``casefold=True`` and a pool from target *train* — and ``pool_from_test=True,
casefold=False`` gives the reference's choices (registered as ``unseen_entities_published``).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xner.data import tag_names
from xner.robustness.perturb.base import (
    Perturbation,
    PerturbationReport,
    PerturbationUnavailable,
    Tags,
    Tokens,
    entity_spans,
    replace_spans,
)

if TYPE_CHECKING:
    import datasets


@dataclass(frozen=True)
class Entity:
    """One entity mention: its type and its tokens."""

    type: str
    tokens: tuple[str, ...]

    @property
    def surface(self) -> str:
        """The tokens joined by single spaces."""
        return " ".join(self.tokens)


def surface_key(tokens: Sequence[str], casefold: bool = True) -> str:
    """The key two mentions share when they are "the same entity": the joined, optionally case-folded surface."""
    text = " ".join(tokens)
    return text.casefold() if casefold else text


def collect_entities(tokens: Iterable[Sequence[str]], tags: Iterable[Sequence[str]]) -> list[Entity]:
    """Every entity mention of a corpus, in corpus order."""
    out: list[Entity] = []
    for toks, tgs in zip(tokens, tags, strict=True):
        for typ, start, end in entity_spans(tgs):
            out.append(Entity(typ, tuple(toks[start:end])))
    return out


def dataset_entities(ds: datasets.Dataset) -> list[Entity]:
    """Every entity mention of a dataset, in order."""
    return collect_entities(ds["tokens"], tag_names(ds))


class UnseenEntityReplacement(Perturbation):
    """Replace test entities that occur in the source training data by same-type entities that do not.

    Args:
        seen: entity mentions of the source training data (see :func:`dataset_entities`).
        pool: candidate replacements (e.g. target training entities); those whose key is among the seen
            keys are removed, duplicates are dropped, corpus order is kept (so draws are reproducible).
        rate: probability that an eligible (seen) entity is replaced.
        casefold: compare surfaces case-insensitively.
        match_type: an entity counts as seen only if it was seen *with the same type* (default ``False``, as the
            reference).
        pool_from_test: draw replacements from the test set's own entities that are not seen (the reference's
            choice), instead of ``pool``; default ``False`` (``pool``, typically target train).
    """

    name = "unseen_entities"
    family = "entities"

    def __init__(
        self,
        seen: Iterable[Entity],
        pool: Iterable[Entity],
        *,
        rate: float = 1.0,
        casefold: bool = True,
        match_type: bool = False,
        pool_from_test: bool = False,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        self.rate = rate
        self.casefold = casefold
        self.match_type = match_type
        self.pool_from_test = pool_from_test
        seen = list(seen)
        self._seen: set[Any] = {self._key(e.type, e.tokens) for e in seen}
        # The pool excludes every surface seen in the source data, whatever its type there: a replacement
        # must be unseen in the plain sense even when eligibility (``match_type``) is type-aware.
        self._seen_surfaces = {surface_key(e.tokens, casefold) for e in seen}
        self.pool: dict[str, list[Entity]] = self._unseen_pool([] if pool_from_test else pool)

    def _unseen_pool(self, pool: Iterable[Entity]) -> dict[str, list[Entity]]:
        by_type: dict[str, dict[str, Entity]] = defaultdict(dict)
        for e in pool:
            k = surface_key(e.tokens, self.casefold)
            if k not in self._seen_surfaces:
                by_type[e.type].setdefault(k, e)
        return {t: list(v.values()) for t, v in by_type.items()}

    @classmethod
    def from_datasets(
        cls, source_train: datasets.Dataset, pool: datasets.Dataset, **kwargs: Any
    ) -> UnseenEntityReplacement:
        """Build from the source training set (what is "seen") and a pool dataset (e.g. target train)."""
        return cls(dataset_entities(source_train), dataset_entities(pool), **kwargs)

    def _key(self, typ: str, tokens: Sequence[str]) -> Any:
        k = surface_key(tokens, self.casefold)
        return (typ, k) if self.match_type else k

    def params(self) -> dict[str, Any]:
        """Rate, matching options and pool sizes per type."""
        return {
            "rate": self.rate,
            "casefold": self.casefold,
            "match_type": self.match_type,
            "pool_from_test": self.pool_from_test,
            "n_seen": len(self._seen),
            # with pool_from_test the pool is the test set's: its sizes are in the report's ops ("pool:<type>")
            "pool_sizes": None if self.pool_from_test else {t: len(v) for t, v in sorted(self.pool.items())},
        }

    def is_seen(self, typ: str, tokens: Sequence[str]) -> bool:
        """Whether a mention counts as seen in the source training data."""
        return self._key(typ, tokens) in self._seen

    def prepare(self, tokens: list[Tokens], tags: list[Tags], lang: str | None, report: PerturbationReport) -> None:
        """Refuse when no test entity is seen, or when no seen entity's type has a pool entity."""
        if self.pool_from_test:
            self.pool = self._unseen_pool(collect_entities(tokens, tags))
            report.ops.update({f"pool:{t}": len(v) for t, v in sorted(self.pool.items())})
        eligible: dict[str, int] = defaultdict(int)
        for toks, tgs in zip(tokens, tags, strict=True):
            for typ, s, e in entity_spans(tgs):
                if self.is_seen(typ, toks[s:e]):
                    eligible[typ] += 1
        report.ops.update({f"seen:{t}": n for t, n in eligible.items()})
        if not eligible:
            raise PerturbationUnavailable("no entity of the test set occurs in the source training data")
        if not any(self.pool.get(t) for t in eligible):
            raise PerturbationUnavailable(
                "no unseen replacement entity for any type with seen entities "
                f"(seen: {dict(sorted(eligible.items()))}; pool sizes: { {t: len(v) for t, v in self.pool.items()} })"
            )

    def perturb_sentence(
        self, tokens: Tokens, tags: Tags, rng: random.Random, report: PerturbationReport
    ) -> tuple[Tokens, Tags]:
        """Replace each seen entity (with probability ``rate``) by a random same-type pool entity."""
        repl: dict[int, tuple[str, int, list[str]]] = {}
        for typ, start, end in entity_spans(tags):
            old = tokens[start:end]
            if not self.is_seen(typ, old):
                continue
            if rng.random() >= self.rate:
                report.skipped["not drawn (rate)"] += 1
                continue
            candidates = self.pool.get(typ)
            if not candidates:
                report.entities_unavailable[typ] += 1
                continue
            new = list(rng.choice(candidates).tokens)
            repl[start] = (typ, end, new)
            record_replacement(report, typ, old, new)
        if not repl:
            return list(tokens), list(tags)
        return replace_spans(tokens, tags, repl)


def record_replacement(
    report: PerturbationReport, typ: str, old: Sequence[str], new: Sequence[str], locale: str | None = None
) -> None:
    """Count one entity replacement (tokens touched, inserted, deleted) and add its record to ``report``."""
    report.entities_replaced[typ] += 1
    report.tokens_touched += len(old) + max(0, len(new) - len(old))
    report.tokens_inserted += max(0, len(new) - len(old))
    report.tokens_deleted += max(0, len(old) - len(new))
    rec = {"sentence": report.current_sentence, "type": typ, "old": " ".join(old), "new": " ".join(new)}
    if locale is not None:
        rec["locale"] = locale
        report.locales[locale] += 1
    report.records.append(rec)
