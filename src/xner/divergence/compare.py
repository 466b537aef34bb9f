"""Comparing two split profiles: every divergence and overlap measure, named ``<family>.<statistic>``."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from xner.divergence.measures import (
    _PER_TYPE,
    DEFAULT_SMOOTHING,
    LENGTH_FAMILIES,
    OVERLAPS,
    STATISTICS,
    SUBWORD_MEASURES,
    DivergenceError,
    aligned,
    js_divergence,
    kl_divergence,
    length_wasserstein,
)
from xner.divergence.profiles import SplitProfile, families, harmonize, profile_split
from xner.labels import LabelSet, MappingReport

if TYPE_CHECKING:
    import datasets


def measure_names(types: Sequence[str], *, subwords: bool = False) -> list[str]:
    """Every measure available for a label set's types (``subwords``: include the tokenizer measures)."""
    out = []
    for fam in families(types):
        is_length = fam in LENGTH_FAMILIES or bool(_PER_TYPE.match(fam))
        out += [f"{fam}.{s}" for s in STATISTICS if s != "wasserstein" or is_length]
    out += [m for m in OVERLAPS if subwords or m not in SUBWORD_MEASURES]
    return out


def measure_kind(measure: str) -> str:
    """``overlap`` for the surface-overlap measures (similarities), ``divergence`` for the rest."""
    return "overlap" if measure in OVERLAPS else "divergence"


def split_measure(measure: str) -> tuple[str, str]:
    """Split a measure name into ``(family, statistic)``; overlaps give ``(name, "share")``."""
    if measure in OVERLAPS:
        return measure, "share"
    fam, _, stat = measure.rpartition(".")
    return fam, stat


def check_measures(measures: Iterable[str] | None, types: Sequence[str], *, subwords: bool) -> list[str]:
    """Validate requested measures (``None``: all available); an unknown one is an error listing the valid ones."""
    valid = measure_names(types, subwords=True)
    if measures is None:
        return measure_names(types, subwords=subwords)
    if isinstance(measures, str):
        measures = [measures]
    req = list(dict.fromkeys(measures))
    if not req:
        raise DivergenceError("no measures requested; pass None for all of them")
    unknown = [m for m in req if m not in valid]
    if unknown:
        raise DivergenceError(f"unknown measure(s) {unknown}; available for types {tuple(types)}: {', '.join(valid)}")
    if not subwords and any(m in SUBWORD_MEASURES for m in req):
        raise DivergenceError(f"measures {[m for m in req if m in SUBWORD_MEASURES]} need a tokenizer (tokenizer=...)")
    return req


def _share_seen(target: Counter, source: Mapping[Any, Any], exclude: Any = None) -> float:
    """Share of the target's occurrences whose item is a key of ``source`` (``exclude`` never counts as seen)."""
    total = sum(target.values())
    if total == 0:
        raise DivergenceError("overlap of an empty target vocabulary is undefined")
    return sum(target[k] for k in target.keys() & source.keys() if k != exclude) / total


@dataclass
class PairDivergence:
    """Measures between a source and a target split, with what was skipped and how labels were mapped."""

    source: str
    target: str
    values: dict[str, float]
    smoothing: float
    skipped: dict[str, str] = field(default_factory=dict)
    mappings: list[MappingReport] = field(default_factory=list)
    tokenizer: str | None = None

    def to_frame(self) -> pd.DataFrame:
        """Tidy rows ``source, target, measure, family, statistic, kind, value``."""
        rows = []
        for m, v in self.values.items():
            fam, stat = split_measure(m)
            rows.append(
                {
                    "source": self.source,
                    "target": self.target,
                    "measure": m,
                    "family": fam,
                    "statistic": stat,
                    "kind": measure_kind(m),
                    "value": v,
                }
            )
        return pd.DataFrame(rows, columns=["source", "target", "measure", "family", "statistic", "kind", "value"])

    def mapping_text(self) -> str:
        """The label mapping as one line (``identity`` when none was needed)."""
        return " | ".join(str(r) for r in self.mappings) if self.mappings else "identity"


def compare_profiles(
    src: SplitProfile,
    tgt: SplitProfile,
    measures: Iterable[str] | None = None,
    *,
    smoothing: float = DEFAULT_SMOOTHING,
    index: OverlapIndex | None = None,
) -> PairDivergence:
    """Compute measures between two profiles on the same label set (see the module docstring for definitions).

    With ``measures=None`` every available measure is computed; a measure undefined for this pair (a per-type
    span-length measure whose type has no entities on one side, context overlap of a target without ``O``
    words) is then skipped and recorded in ``skipped``; requested explicitly, it is an error.
    """
    if src.label_set.labels != tgt.label_set.labels:
        raise DivergenceError(
            f"{src.name} has labels {src.label_set.labels} but {tgt.name} has {tgt.label_set.labels}; "
            f"map them onto one label set first (harmonize(..., type_map=...))"
        )
    if smoothing < 0 or not math.isfinite(smoothing):
        raise DivergenceError(f"smoothing must be a finite number >= 0, got {smoothing}")
    have_sub = src.subwords is not None and tgt.subwords is not None
    explicit = measures is not None
    req = check_measures(measures, src.types, subwords=have_sub)
    if have_sub and src.tokenizer != tgt.tokenizer:
        raise DivergenceError(f"profiles were tokenized differently: {src.tokenizer} vs {tgt.tokenizer}")
    values: dict[str, float] = {}
    skipped: dict[str, str] = {}
    cache: dict[str, tuple] = {}
    for m in req:
        if m in OVERLAPS:
            reason = "no context (O) words in the target" if m == "context_overlap" and not tgt.context_words else ""
        else:
            fam, stat = split_measure(m)
            a, b = src.family(fam), tgt.family(fam)
            empty = [p.name for p, d in ((src, a), (tgt, b)) if sum(d.values()) == 0]
            reason = f"no entities of this type in {', '.join(empty)}" if empty else ""
        if reason:
            if explicit:
                raise DivergenceError(f"measure {m} is undefined for {src.name} → {tgt.name}: {reason}")
            skipped[m] = reason
            continue
        if m in OVERLAPS:
            values[m] = index.share(m, src, tgt) if index is not None else _overlap(m, src, tgt)
            continue
        if fam not in cache:
            support = src.types if fam == "type_mix" else ()
            cache[fam] = aligned(a, b, support)
        _, pa, pb = cache[fam]
        if stat == "js":
            values[m] = js_divergence(pa, pb)
        elif stat == "kl_st":
            values[m] = kl_divergence(pa, pb, smoothing)
        elif stat == "kl_ts":
            values[m] = kl_divergence(pb, pa, smoothing)
        else:
            values[m] = length_wasserstein(a, b)
    bad = {m: v for m, v in values.items() if not math.isfinite(v)}
    if bad:  # guard: every path above is finite by construction; never let a NaN/inf through silently
        raise DivergenceError(f"non-finite measures {bad} for {src.name} → {tgt.name}")
    maps = [r for r in (src.mapping, tgt.mapping) if r is not None]
    return PairDivergence(src.name, tgt.name, values, smoothing, skipped, maps, src.tokenizer if have_sub else None)


_OVERLAP_ATTR = {
    "entity_overlap": "surfaces",
    "entity_overlap_typed": "typed_surfaces",
    "entity_token_overlap": "entity_words",
    "context_overlap": "context_words",
    "subword_overlap": "subwords",
    "entity_subword_overlap": "entity_subwords",
}


class OverlapIndex:
    """The vocabularies of many profiles as integer ids, so that each overlap in an all-pairs run is one
    numpy gather instead of a dictionary intersection (which dominated the benchmark). Gives exactly the
    numbers of the dictionary path: the same integer counts are summed and divided.
    """

    def __init__(self, profiles: Iterable[SplitProfile]) -> None:
        self._vocab: dict[str, dict[Any, int]] = {a: {} for a in _OVERLAP_ATTR.values()}
        self._arrays: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}
        self._member: dict[tuple[int, str], np.ndarray] = {}
        self._profiles = list(profiles)
        for p in self._profiles:
            for attr, vocab in self._vocab.items():
                counter = getattr(p, attr)
                if counter is None:
                    continue
                ids = np.fromiter(
                    (vocab.setdefault(k, len(vocab)) for k in counter), dtype=np.int64, count=len(counter)
                )
                self._arrays[(id(p), attr)] = (ids, np.fromiter(counter.values(), dtype=np.int64, count=len(counter)))

    def share(self, measure: str, src: SplitProfile, tgt: SplitProfile) -> float:
        """Share of the target's occurrences seen in the source, for one overlap measure."""
        attr = _OVERLAP_ATTR[measure]
        key = (id(src), attr)
        if key not in self._member:
            vocab = self._vocab[attr]
            mask = np.zeros(len(vocab) + 1, dtype=bool)
            mask[self._arrays[key][0]] = True
            if attr in ("subwords", "entity_subwords") and src.unk_id is not None and src.unk_id in vocab:
                mask[vocab[src.unk_id]] = False
            self._member[key] = mask
        ids, counts = self._arrays[(id(tgt), attr)]
        total = int(counts.sum())
        if total == 0:
            raise DivergenceError("overlap of an empty target vocabulary is undefined")
        return int(counts[self._member[key][ids]].sum()) / total


def _overlap(m: str, src: SplitProfile, tgt: SplitProfile) -> float:
    if m == "entity_overlap":
        return _share_seen(tgt.surfaces, src.surfaces)
    if m == "entity_overlap_typed":
        return _share_seen(tgt.typed_surfaces, src.typed_surfaces)
    if m == "entity_token_overlap":
        return _share_seen(tgt.entity_words, src.entity_words)
    if m == "context_overlap":
        return _share_seen(tgt.context_words, src.context_words)
    assert src.subwords is not None and tgt.subwords is not None and tgt.entity_subwords is not None
    return _share_seen(tgt.subwords if m == "subword_overlap" else tgt.entity_subwords, src.subwords, src.unk_id)


def compare(
    source: datasets.Dataset | SplitProfile,
    target: datasets.Dataset | SplitProfile,
    measures: Iterable[str] | None = None,
    *,
    smoothing: float = DEFAULT_SMOOTHING,
    type_map: Mapping[str, str | None] | None = None,
    label_set: LabelSet | str | None = None,
    tokenizer: Any = None,
    source_name: str = "source",
    target_name: str = "target",
) -> PairDivergence:
    """Divergences and overlaps between a source (training) split and a target (test) split.

    Datasets are harmonised (:func:`harmonize`) and profiled; profiles are compared as they are. See the module
    docstring for every measure; ``smoothing`` (pseudo-counts per cell, for KL only) is recorded in the result.
    """
    if not isinstance(source, SplitProfile) or not isinstance(target, SplitProfile):
        if isinstance(source, SplitProfile) or isinstance(target, SplitProfile):
            raise DivergenceError("pass two datasets or two profiles, not one of each")
        s, t, reps = harmonize(source, target, type_map, label_set)
        source = profile_split(s, source_name, tokenizer=tokenizer, mapping=reps[0] if reps else None)
        target = profile_split(t, target_name, tokenizer=tokenizer, mapping=reps[1] if reps else None)
    return compare_profiles(source, target, measures, smoothing=smoothing)
