"""Stage 02: label-distribution divergence between two splits (a source training set and a target test set).

For each split a :class:`SplitProfile` holds the distributions that transfer may depend on:

* ``type_mix`` — entity types (over every type of the label set, zeros included);
* ``span_length`` — span lengths in words, pooled over types, and ``span_length[T]`` for each type ``T``;
* ``entities_per_sentence`` — how many entities a sentence carries (0, 1, 2, ...);
* ``transitions`` — tag bigrams, with ``<s>`` before the first and ``</s>`` after the last tag;

plus the vocabularies behind the surface-overlap measures. :func:`compare` turns two profiles into measures
named ``<family>.<statistic>``:

* ``js`` — Jensen–Shannon divergence in bits (base 2), in [0, 1]: the square of
  ``scipy.spatial.distance.jensenshannon(p, q, base=2)`` (scipy returns the distance, its square root);
  it needs no smoothing because the mixture is never zero where ``p`` or ``q`` is not;
* ``kl_st`` / ``kl_ts`` — Kullback–Leibler divergence in bits, source‖target and target‖source, after
  additive (Lidstone) smoothing: ``smoothing`` pseudo-counts are added to every cell of the union of both
  supports (for ``type_mix``: every type of the label set). ``smoothing=0`` is allowed only when no cell is
  zero where the other side is not; otherwise it is an error, never a silent infinity;
* ``wasserstein`` — the 1-Wasserstein (earth mover's) distance between length-like distributions
  (``span_length*`` and ``entities_per_sentence``), in words or entities, from ``scipy.stats.wasserstein_distance``.

Overlap measures (higher = more shared; a similarity, not a divergence), all as shares of *occurrences* in the
target split:

* ``entity_overlap`` — target entity mentions whose surface (words joined by a space, case-sensitive) occurs as
  an entity of any type in the source; ``entity_overlap_typed`` — the same with the type required to match
  (this is stage 01's ``entity_coverage``);
* ``entity_token_overlap`` — words inside target entities that occur inside some source entity;
* ``context_overlap`` — target context (``O``) words that occur as context words in the source (stage 01's
  ``context_coverage``);
* ``subword_overlap`` / ``entity_subword_overlap`` — with a tokenizer: target subword pieces (of all words /
  of entity words; each word tokenized on its own, as with ``is_split_into_words``) whose id occurs among
  the source's pieces. Pieces equal to the tokenizer's unknown token count as unseen.

Label sets that differ are first put on one label set by an explicit mapping (:func:`harmonize`, which calls
:func:`xner.labels.map_labels`), and the mapping reports travel with the result.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr
from scipy.stats import wasserstein_distance

from xner.data import label_set_of
from xner.labels import LabelSet, MappingReport, get_label_set, map_labels

if TYPE_CHECKING:
    import datasets
    import matplotlib.figure


STATISTICS = ("js", "kl_st", "kl_ts", "wasserstein")
LENGTH_FAMILIES = ("span_length", "entities_per_sentence")  # (and span_length[T]) — Wasserstein applies
OVERLAPS = (
    "entity_overlap",
    "entity_overlap_typed",
    "entity_token_overlap",
    "context_overlap",
    "subword_overlap",
    "entity_subword_overlap",
)
SUBWORD_MEASURES = ("subword_overlap", "entity_subword_overlap")
DEFAULT_SMOOTHING = 0.5
BOS, EOS = "<s>", "</s>"
_PER_TYPE = re.compile(r"^span_length\[(?P<type>[^\]]+)\]$")


class DivergenceError(ValueError):
    """Input that divergences cannot be computed for: empty splits, no entities, unknown measures, bad mixes."""


# ---------------------------------------------------------------------------------------------- measures


def _as_probs(x: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise DivergenceError(
            f"{what}: expected a non-empty 1-d vector of counts or probabilities, got shape {arr.shape}"
        )
    total = arr.sum()
    if not math.isfinite(total) or arr.min() < 0:  # a NaN or infinite cell makes the sum non-finite
        raise DivergenceError(f"{what}: counts must be finite and non-negative, got {arr.tolist()}")
    if total <= 0:
        raise DivergenceError(f"{what}: all cells are zero (an empty distribution has no divergence)")
    return arr / total


def js_divergence(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen–Shannon divergence in bits between two aligned count or probability vectors; in [0, 1].

    This is the *divergence*: the square of ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.
    """
    pp, qq = _as_probs(p, "p"), _as_probs(q, "q")
    if pp.shape != qq.shape:
        raise DivergenceError(f"p and q must be aligned over the same cells; got {pp.size} and {qq.size} cells")
    with np.errstate(invalid="ignore"):
        dist = float(jensenshannon(pp, qq, base=2))
    if math.isnan(dist):
        # scipy takes sqrt of a sum that rounding can leave at -1e-17 for (near-)identical inputs; the inputs
        # were validated above, so NaN here can only mean that: check it really is ~0 before returning 0.
        m = (pp + qq) / 2
        raw = (_kl_bits(pp, m) + _kl_bits(qq, m)) / 2
        if abs(raw) > 1e-12:
            raise DivergenceError(f"Jensen–Shannon divergence is NaN for p={pp.tolist()}, q={qq.tolist()}")
        return 0.0
    return min(1.0, dist * dist)


def kl_divergence(p: Sequence[float], q: Sequence[float], smoothing: float = 0.0) -> float:
    """Kullback–Leibler divergence KL(p‖q) in bits between aligned count vectors, with additive smoothing.

    ``smoothing`` pseudo-counts are added to every cell of both vectors before normalising (pass counts, not
    probabilities, when smoothing matters). A cell where ``q`` is zero and ``p`` is not makes KL infinite:
    with ``smoothing=0`` that is an error, never a silent ``inf``.
    """
    if smoothing < 0 or not math.isfinite(smoothing):
        raise DivergenceError(f"smoothing must be a finite number >= 0, got {smoothing}")
    pa, qa = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if pa.shape != qa.shape:
        raise DivergenceError(f"p and q must be aligned over the same cells; got shapes {pa.shape} and {qa.shape}")
    _as_probs(pa, "p"), _as_probs(qa, "q")  # validate the counts themselves, before smoothing hides a bad cell
    pp, qq = _as_probs(pa + smoothing, "p"), _as_probs(qa + smoothing, "q")
    bad = (qq == 0) & (pp > 0)
    if bad.any():
        raise DivergenceError(
            f"KL(p‖q) is infinite: q is zero in {int(bad.sum())} cell(s) where p is not; "
            f"pass smoothing > 0 (pseudo-counts per cell) to get a finite value"
        )
    return max(0.0, _kl_bits(pp, qq))


def _kl_bits(p: np.ndarray, q: np.ndarray) -> float:
    # scipy.special.rel_entr rather than scipy.stats.entropy: same formula, without the per-call argument
    # inspection of scipy.stats' nan-policy wrapper, which dominated the all-pairs benchmark.
    return float(rel_entr(p, q).sum() / math.log(2))


def length_wasserstein(a: Mapping[int, float], b: Mapping[int, float]) -> float:
    """1-Wasserstein distance between two length distributions given as ``{value: count}`` (scipy)."""
    for name, d in (("a", a), ("b", b)):
        if not d or sum(d.values()) <= 0:
            raise DivergenceError(f"length distribution {name} is empty (no entities or sentences to measure)")
    ua, wa = zip(*sorted(a.items()), strict=True)
    ub, wb = zip(*sorted(b.items()), strict=True)
    return float(wasserstein_distance(ua, ub, wa, wb))


def aligned(
    a: Mapping[Any, float], b: Mapping[Any, float], support: Iterable[Any] = ()
) -> tuple[list, np.ndarray, np.ndarray]:
    """Align two ``{cell: count}`` mappings over the union of their cells and ``support`` (sorted by str)."""
    cells = sorted(set(a) | set(b) | set(support), key=str)
    return (
        cells,
        np.array([a.get(c, 0) for c in cells], dtype=float),
        np.array([b.get(c, 0) for c in cells], dtype=float),
    )


# ---------------------------------------------------------------------------------------------- tokenizers


@dataclass(frozen=True)
class SubwordEncoder:
    """A tokenizer reduced to what overlap needs: ``encode(words) -> ids per word``, its unknown id and a name."""

    name: str
    encode: Callable[[list[str]], list[list[int]]]
    unk_id: int | None
    cache: dict[str, list[int]] = field(default_factory=dict, repr=False, compare=False)

    def pieces(self, words: Iterable[str]) -> dict[str, list[int]]:
        """Subword ids of each distinct word, each word tokenized on its own; memoised across calls."""
        words = set(words)
        todo = sorted(words - self.cache.keys())
        if todo:
            self.cache.update(zip(todo, self.encode(todo), strict=True))
        return {w: self.cache[w] for w in words}


def resolve_tokenizer(tokenizer: Any) -> SubwordEncoder:
    """Accept a ``tokenizers.Tokenizer``, a ``transformers`` tokenizer, a ``tokenizer.json`` path, or a folder/name.

    A folder holding ``tokenizer.json`` loads with ``tokenizers``; any other folder or a hub name goes through
    ``transformers.AutoTokenizer.from_pretrained`` (which needs the hub for names not cached).
    """
    if isinstance(tokenizer, SubwordEncoder):
        return tokenizer
    import tokenizers

    if isinstance(tokenizer, (str, Path)):
        path = Path(tokenizer)
        if path.is_file():
            return _from_tokenizers(tokenizers.Tokenizer.from_file(str(path)), str(path))
        if path.is_dir() and (path / "tokenizer.json").is_file():
            return _from_tokenizers(tokenizers.Tokenizer.from_file(str(path / "tokenizer.json")), str(path))
        from transformers import AutoTokenizer

        try:
            return resolve_tokenizer(AutoTokenizer.from_pretrained(str(tokenizer)))
        except Exception as exc:  # transformers raises OSError/ValueError/HF errors for missing names
            raise DivergenceError(
                f"tokenizer {str(tokenizer)!r}: not a tokenizer.json file, a folder, or a loadable name ({exc})"
            ) from exc
    if isinstance(tokenizer, tokenizers.Tokenizer):
        return _from_tokenizers(tokenizer, f"tokenizers.Tokenizer(vocab={tokenizer.get_vocab_size()})")
    if callable(tokenizer) and hasattr(tokenizer, "convert_tokens_to_ids"):  # transformers PreTrainedTokenizerBase
        hf = tokenizer

        def encode_hf(words: list[str]) -> list[list[int]]:
            return list(hf(words, add_special_tokens=False)["input_ids"]) if words else []

        return SubwordEncoder(
            getattr(hf, "name_or_path", "") or type(hf).__name__, encode_hf, getattr(hf, "unk_token_id", None)
        )
    raise DivergenceError(
        f"tokenizer of type {type(tokenizer).__name__} is not supported; pass a tokenizers.Tokenizer, a transformers "
        f"tokenizer, a tokenizer.json path or a folder"
    )


def _from_tokenizers(tok: Any, name: str) -> SubwordEncoder:
    """Wrap a ``tokenizers.Tokenizer``; its unknown token is the model's ``unk_token`` (or ``[UNK]``/``<unk>``)."""

    def encode(words: list[str]) -> list[list[int]]:
        return [e.ids for e in tok.encode_batch(words, add_special_tokens=False)]

    unk = None
    for cand in (getattr(tok.model, "unk_token", None), "[UNK]", "<unk>"):
        if cand and tok.token_to_id(cand) is not None:
            unk = tok.token_to_id(cand)
            break
    return SubwordEncoder(name, encode, unk)


# ---------------------------------------------------------------------------------------------- profiles


@dataclass
class SplitProfile:
    """The distributions and vocabularies of one split, computed once and compared many times."""

    name: str
    label_set: LabelSet
    n_sentences: int
    n_tokens: int
    type_counts: Counter
    lengths: dict[str, Counter]  # per type; pooled under "" (see :meth:`family`)
    entities_per_sentence: Counter
    transitions: Counter
    surfaces: Counter  # surface -> count
    typed_surfaces: Counter  # (type, surface) -> count
    entity_words: Counter
    context_words: Counter
    subwords: Counter | None = None
    entity_subwords: Counter | None = None
    tokenizer: str | None = None
    unk_id: int | None = None
    mapping: MappingReport | None = None

    @property
    def n_entities(self) -> int:
        """Number of entities in the split."""
        return sum(self.type_counts.values())

    @property
    def types(self) -> tuple[str, ...]:
        """Entity types of the label set."""
        return self.label_set.types

    def family(self, name: str) -> Counter:
        """The counts of one distribution family (``type_mix``, ``span_length``, ``span_length[T]``, …)."""
        if name == "type_mix":
            return Counter({t: self.type_counts.get(t, 0) for t in self.types})
        if name == "span_length":
            return self.lengths[""]
        if name == "entities_per_sentence":
            return self.entities_per_sentence
        if name == "transitions":
            return self.transitions
        m = _PER_TYPE.match(name)
        if m and m["type"] in self.types:
            return self.lengths.get(m["type"], Counter())
        raise DivergenceError(f"unknown distribution family {name!r}; known: {', '.join(families(self.types))}")


def families(types: Sequence[str]) -> list[str]:
    """Distribution families for a label set's entity types."""
    return ["type_mix", "span_length", *[f"span_length[{t}]" for t in types], "entities_per_sentence", "transitions"]


@dataclass(frozen=True)
class FlatSplit:
    """A split as flat arrays: every word, its tag id, sentence offsets, and the strict-IOB2 entities."""

    words: list[str]
    ids: np.ndarray  # tag id per word
    offsets: np.ndarray  # sentence i is words[offsets[i]:offsets[i + 1]]
    ent_start: np.ndarray  # first word of each entity
    ent_len: np.ndarray  # its length in words
    ent_type: np.ndarray  # index into label_set.types
    first: np.ndarray  # True at the first word of each sentence
    label_set: LabelSet

    @property
    def n_sentences(self) -> int:
        """Number of sentences."""
        return len(self.offsets) - 1

    def entity_sentence(self) -> np.ndarray:
        """The sentence index of each entity."""
        return np.searchsorted(self.offsets, self.ent_start, side="right") - 1

    def type_counts_per_sentence(self) -> np.ndarray:
        """A sentences × types matrix of entity counts."""
        out = np.zeros((self.n_sentences, len(self.label_set.types)), dtype=np.int64)
        np.add.at(out, (self.entity_sentence(), self.ent_type), 1)
        return out


def flatten(ds: datasets.Dataset) -> FlatSplit:
    """Read a split through Arrow into flat arrays and find its entities in strict IOB2, vectorised.

    Entities are exactly those of :func:`xner.metrics.get_entities` (the tests check this on random tag
    sequences): a word continues an entity when it is ``I-X`` right after ``B-X`` or a continuing ``I-X`` in the
    same sentence; a run of continuing words that starts with ``B-X`` is an entity, one that starts with an
    orphan ``I-X`` is not. Done with numpy rather than per sentence because profiling 48 splits per loop
    dominated the all-pairs benchmark.
    """
    import pyarrow.compute as pc

    ls = label_set_of(ds)
    arrow = ds.with_format("arrow")
    tok_col = arrow["tokens"].combine_chunks()
    tag_col = arrow["ner_tags"].combine_chunks()
    lengths = pc.list_value_length(tag_col).to_numpy(zero_copy_only=False).astype(np.int64)
    tok_lengths = pc.list_value_length(tok_col).to_numpy(zero_copy_only=False).astype(np.int64)
    if not np.array_equal(lengths, tok_lengths):
        bad = int(np.flatnonzero(lengths != tok_lengths)[0])
        raise DivergenceError(f"sentence {bad}: {tok_lengths[bad]} tokens but {lengths[bad]} tags")
    ids = tag_col.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
    words = tok_col.flatten().to_pylist()
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    names = ls.labels
    is_b = np.array([lab.startswith("B-") for lab in names])
    is_i = np.array([lab.startswith("I-") for lab in names])
    type_of = np.array([ls.types.index(lab[2:]) if lab != "O" else -1 for lab in names])
    n = len(ids)
    first = np.zeros(n, dtype=bool)
    first[offsets[:-1][lengths > 0]] = True
    prev = np.empty_like(ids)
    if n:
        prev[0] = 0
        prev[1:] = ids[:-1]
    cont = is_i[ids] & ~first & (type_of[prev] == type_of[ids])
    run_start = np.flatnonzero(~cont)
    run_len = np.diff(np.append(run_start, n))
    ent = is_b[ids[run_start]]
    return FlatSplit(words, ids, offsets, run_start[ent], run_len[ent], type_of[ids[run_start[ent]]], first, ls)


def _value_counts(arr: np.ndarray) -> Counter:
    values, counts = np.unique(arr, return_counts=True)
    return Counter(dict(zip(values.tolist(), counts.tolist(), strict=True)))


def profile_split(
    ds: datasets.Dataset, name: str = "split", *, tokenizer: Any = None, mapping: MappingReport | None = None
) -> SplitProfile:
    """Profile one split: entity types, span lengths, entities per sentence, tag bigrams, vocabularies.

    Raises :class:`DivergenceError` for an empty split or a split without entities (no divergence of
    entity distributions is defined for them).
    """
    if len(ds) == 0:
        raise DivergenceError(f"{name}: empty split (no sentences)")
    f = flatten(ds)
    if f.ent_start.size == 0:
        raise DivergenceError(
            f"{name}: no entities in {len(ds)} sentences; divergences of entity distributions are undefined"
        )
    ls, names, types = f.label_set, f.label_set.labels, f.label_set.types
    n_sent = f.n_sentences
    per_sent = np.bincount(np.bincount(f.entity_sentence(), minlength=n_sent))  # sentences by entity count
    # tag bigrams with <s> before and </s> after each sentence (an empty sentence gives <s>→</s>)
    n_lab = len(names)
    bos, eos = n_lab, n_lab + 1
    lengths = np.diff(f.offsets)
    prev = np.empty_like(f.ids)
    if len(f.ids):
        prev[1:] = f.ids[:-1]
    prev[f.first] = bos
    last = np.full(n_sent, bos, dtype=np.int64)  # the last tag of each sentence; <s> for an empty one
    last[lengths > 0] = f.ids[f.offsets[1:][lengths > 0] - 1]
    codes = np.concatenate([prev * (n_lab + 2) + f.ids, last * (n_lab + 2) + eos])
    big = np.bincount(codes, minlength=(n_lab + 2) ** 2)
    sym = [*names, BOS, EOS]
    trans = Counter({(sym[c // (n_lab + 2)], sym[c % (n_lab + 2)]): int(big[c]) for c in np.flatnonzero(big)})
    # entities: types, lengths, surfaces, words
    lengths_by = {
        "": _value_counts(f.ent_len),
        **{t: _value_counts(f.ent_len[f.ent_type == j]) for j, t in enumerate(types)},
    }
    ent_types = [types[j] for j in f.ent_type.tolist()]
    w = f.words
    surfaces = [" ".join(w[s : s + n]) for s, n in zip(f.ent_start.tolist(), f.ent_len.tolist(), strict=True)]
    mark = np.zeros(len(f.ids) + 1, dtype=np.int64)
    np.add.at(mark, f.ent_start, 1)
    np.add.at(mark, f.ent_start + f.ent_len, -1)
    in_ent = np.cumsum(mark[:-1]) > 0
    prof = SplitProfile(
        name=name,
        label_set=ls,
        n_sentences=n_sent,
        n_tokens=len(f.ids),
        type_counts=Counter(ent_types),
        lengths=lengths_by,
        entities_per_sentence=Counter({k: int(v) for k, v in enumerate(per_sent.tolist()) if v}),
        transitions=trans,
        surfaces=Counter(surfaces),
        typed_surfaces=Counter(zip(ent_types, surfaces, strict=True)),
        entity_words=Counter(compress(w, in_ent.tolist())),
        context_words=Counter(compress(w, (f.ids == 0).tolist())),
        mapping=mapping,
    )
    if tokenizer is not None:
        add_subwords(prof, w, tokenizer)
    return prof


def add_subwords(prof: SplitProfile, words: Iterable[str], tokenizer: Any) -> SplitProfile:
    """Count the subword pieces of a split's words (all words, and entity words) under ``tokenizer``.

    Each distinct word is tokenized once on its own; counts are weighted by the word's frequency.
    """
    enc = resolve_tokenizer(tokenizer)
    word_freq: Counter = Counter(words)
    pieces = enc.pieces(word_freq)
    sub: Counter = Counter()
    esub: Counter = Counter()
    for w, n in word_freq.items():
        for i in pieces[w]:
            sub[i] += n
    for w, n in prof.entity_words.items():
        for i in pieces[w]:
            esub[i] += n
    prof.subwords, prof.entity_subwords, prof.tokenizer, prof.unk_id = sub, esub, enc.name, enc.unk_id
    return prof


def distributions(prof: SplitProfile) -> pd.DataFrame:
    """The profile's distributions as a tidy table ``split, family, cell, count, share``."""
    rows = []
    for fam in families(prof.types):
        counts = prof.family(fam)
        total = sum(counts.values())
        for cell, n in sorted(counts.items(), key=lambda kv: str(kv[0])):
            cell_s = "→".join(cell) if isinstance(cell, tuple) else str(cell)
            rows.append(
                {"split": prof.name, "family": fam, "cell": cell_s, "count": n, "share": n / total if total else 0.0}
            )
    return pd.DataFrame(rows, columns=["split", "family", "cell", "count", "share"])


# ---------------------------------------------------------------------------------------------- harmonising labels


def harmonize(
    source: datasets.Dataset,
    target: datasets.Dataset,
    type_map: Mapping[str, str | None] | None = None,
    label_set: LabelSet | str | None = None,
) -> tuple[datasets.Dataset, datasets.Dataset, list[MappingReport]]:
    """Put two splits on one label set by an explicit type mapping; return both and the mapping reports.

    When both splits already share a label set and neither ``type_map`` nor ``label_set`` is given, nothing
    changes and no report is made. Otherwise both are mapped onto ``label_set`` (default: the target's) with
    :func:`xner.labels.map_labels`, using the entries of ``type_map`` that apply to each side (e.g.
    ``{"MISC": None}`` drops MISC, ``{"DATE": None}`` drops DATE). A type without a counterpart and without a
    mapping entry is an error naming it; an entry naming a type neither split has is an error too.
    """
    ls_s, ls_t = label_set_of(source), label_set_of(target)
    if ls_s.labels == ls_t.labels and type_map is None and label_set is None:
        return source, target, []
    common = get_label_set(label_set) if label_set is not None else ls_t
    tm = dict(type_map or {})
    stray = set(tm) - set(ls_s.types) - set(ls_t.types)
    if stray:
        raise DivergenceError(
            f"type_map names {sorted(stray)}, which neither split has (source {ls_s.types}, target {ls_t.types})"
        )
    out, reports = [], []
    for ds, ls in ((source, ls_s), (target, ls_t)):
        mapped, rep = map_labels(ds, common, {k: v for k, v in tm.items() if k in ls.types})
        out.append(mapped)
        reports.append(rep)
    return out[0], out[1], reports


# ---------------------------------------------------------------------------------------------- comparing


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


# ---------------------------------------------------------------------------------------------- all pairs and pair tables


def load_profiles(
    languages: Sequence[str],
    split: str,
    dataset: str = "wikiann",
    *,
    tokenizer: Any = None,
    loader: Callable[..., datasets.Dataset] | None = None,
) -> dict[str, SplitProfile]:
    """Profile ``split`` of ``dataset`` for each language (named ``<lang>/<split>``), loading with ``xner.data``."""
    from xner.data import load_split

    load = loader or load_split
    enc = resolve_tokenizer(tokenizer) if tokenizer is not None else None
    return {lang: profile_split(load(lang, split, dataset), f"{lang}/{split}", tokenizer=enc) for lang in languages}


def local_languages(dataset: str = "wikiann") -> list[str]:
    """Languages with local data for ``dataset`` (``XNER_DATA_DIR/<dataset>/*``); an error when there are none."""
    from xner.config import DATA_ENV, data_dir
    from xner.data import available_languages

    langs = available_languages(dataset)
    if not langs:
        raise DivergenceError(f"no local {dataset} languages: {DATA_ENV}={data_dir()} has no {dataset}/<lang>/ folders")
    return langs


def all_pairs(
    sources: Mapping[str, SplitProfile],
    targets: Mapping[str, SplitProfile],
    measures: Iterable[str] | None = None,
    *,
    smoothing: float = DEFAULT_SMOOTHING,
) -> pd.DataFrame:
    """Every source × target combination (the diagonal included: a language's own train vs test) as a tidy table.

    Columns: ``source, target, measure, family, statistic, kind, value``. Skipped measures are listed in
    ``df.attrs["skipped"]`` as ``(source, target, measure, reason)``.
    """
    rows, skipped = [], []
    index = OverlapIndex([*sources.values(), *targets.values()])
    for s, ps in sources.items():
        for t, pt in targets.items():
            res = compare_profiles(ps, pt, measures, smoothing=smoothing, index=index)
            rows += [(s, t, m, *split_measure(m), measure_kind(m), v) for m, v in res.values.items()]
            skipped += [(s, t, m, r) for m, r in res.skipped.items()]
    if not rows:
        raise DivergenceError("no sources or no targets given")
    df = pd.DataFrame(rows, columns=["source", "target", "measure", "family", "statistic", "kind", "value"])
    df.attrs["skipped"] = skipped
    return df


def matrix(df: pd.DataFrame, measure: str) -> pd.DataFrame:
    """One measure of an all-pairs table as a matrix: rows = sources, columns = targets (order of appearance)."""
    sub = df[df["measure"] == measure]
    if sub.empty:
        raise DivergenceError(f"measure {measure!r} is not in the table; it has: {', '.join(df['measure'].unique())}")
    rows = list(dict.fromkeys(sub["source"]))
    cols = list(dict.fromkeys(sub["target"]))
    return sub.pivot(index="source", columns="target", values="value").reindex(index=rows, columns=cols)


def pair_table(
    pairs: Sequence[Any],
    *,
    dataset: str = "wikiann",
    source_split: str = "train",
    target_split: str = "test",
    measures: Iterable[str] | None = None,
    smoothing: float = DEFAULT_SMOOTHING,
    tokenizer: Any = None,
    type_map: Mapping[str, str | None] | None = None,
    profiles: Mapping[tuple[str, str], SplitProfile] | None = None,
    loader: Callable[..., datasets.Dataset] | None = None,
) -> pd.DataFrame:
    """Per-pair table for ``pairs`` (``xner.config.Pair`` objects or ``"src-tgt"`` strings), tidy and long.

    Columns: ``source, target, group, measure, family, statistic, kind, value, smoothing, mapping``.
    ``profiles`` maps ``(lang, split)`` to ready profiles (reused when given); others are loaded.
    """
    from xner.config import parse_pair
    from xner.data import load_split

    load = loader or load_split
    enc = resolve_tokenizer(tokenizer) if tokenizer is not None else None
    cache: dict[tuple[str, str], SplitProfile] = dict(profiles or {})
    frames = []
    skipped = []
    for p in pairs:
        p = parse_pair(p) if isinstance(p, str) else p
        key_s, key_t = (p.source, source_split), (p.target, target_split)
        if type_map is None and key_s in cache and key_t in cache:
            res = compare_profiles(cache[key_s], cache[key_t], measures, smoothing=smoothing)
        else:
            s, t, reps = harmonize(
                load(p.source, source_split, dataset), load(p.target, target_split, dataset), type_map
            )
            ps = profile_split(s, f"{p.source}/{source_split}", tokenizer=enc, mapping=reps[0] if reps else None)
            pt = profile_split(t, f"{p.target}/{target_split}", tokenizer=enc, mapping=reps[1] if reps else None)
            if not reps:
                cache[key_s], cache[key_t] = ps, pt
            res = compare_profiles(ps, pt, measures, smoothing=smoothing)
        f = res.to_frame()
        f["source"], f["target"] = p.source, p.target
        f.insert(2, "group", getattr(p, "group", "custom"))
        f["smoothing"] = smoothing
        f["mapping"] = res.mapping_text()
        frames.append(f)
        skipped += [(p.source, p.target, m, r) for m, r in res.skipped.items()]
    if not frames:
        raise DivergenceError("no pairs given")
    df = pd.concat(frames, ignore_index=True)
    df.attrs["skipped"] = skipped
    return df


def local_pairs(pairs: Sequence[Any], dataset: str = "wikiann") -> tuple[list[Any], list[Any]]:
    """Split configured pairs into those whose languages are in the local data and those that need the hub."""
    avail = set(local_languages(dataset))
    ok = [p for p in pairs if p.source in avail and p.target in avail]
    return ok, [p for p in pairs if p not in ok]


def write_tables(
    out_dir: str | Path,
    *,
    all_pairs_df: pd.DataFrame | None = None,
    pairs_df: pd.DataFrame | None = None,
    sig_fields: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write ``all_pairs.csv`` and/or ``pairs.csv`` under ``out_dir`` with signatures (``xner.signature``)."""
    from xner.signature import signature, write_table

    out = []
    base = {"stage": "02_divergence", "js_base": 2, **dict(sig_fields or {})}
    for name, df in (("all_pairs", all_pairs_df), ("pairs", pairs_df)):
        if df is None:
            continue
        skipped = [" ".join(map(str, s)) for s in df.attrs.get("skipped", [])]
        sig = signature(table=name, skipped_measures=len(skipped), skipped=skipped, **base)
        out.append(write_table(df, Path(out_dir) / f"{name}.csv", sig))
    return out


# ---------------------------------------------------------------------------------------------- figures


def figure_stem(measure: str) -> str:
    """A file-name-safe form of a measure name (``span_length[PER].js`` → ``span_length_PER_js``)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", measure).strip("_")


def plot_heatmap(mat: pd.DataFrame, measure: str, *, annotate: bool | None = None) -> matplotlib.figure.Figure:
    """Heatmap of one all-pairs matrix (rows: source train, columns: target test), colour-blind-safe."""
    import matplotlib.pyplot as plt

    from xner.figures import SEQUENTIAL_CMAP, style

    n_r, n_c = mat.shape
    annotate = (n_r * n_c <= 100) if annotate is None else annotate
    with style():
        fig, ax = plt.subplots(figsize=(1.2 + 0.32 * n_c, 1.0 + 0.3 * n_r))
        vals = mat.to_numpy(dtype=float)
        im = ax.imshow(vals, cmap=SEQUENTIAL_CMAP + ("_r" if measure_kind(measure) == "overlap" else ""), aspect="auto")
        ax.set_xticks(range(n_c), mat.columns, rotation=90)
        ax.set_yticks(range(n_r), mat.index)
        ax.set_xlabel("target (test)")
        ax.set_ylabel("source (train)")
        ax.set_title(measure)
        fig.colorbar(im, ax=ax, shrink=0.8)
        if annotate:
            mid = np.nanmean(vals)
            for i in range(n_r):
                for j in range(n_c):
                    ax.text(
                        j,
                        i,
                        f"{vals[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if (vals[i, j] < mid) != (measure_kind(measure) == "overlap") else "black",
                    )
    return fig


def pair_matrix(pairs_df: pd.DataFrame, measures: Sequence[str] | None = None) -> pd.DataFrame:
    """A per-pair table as a matrix: rows ``src→tgt``, columns measures (all, or the ones given, in that order)."""
    df = pairs_df.assign(pair=pairs_df["source"] + "→" + pairs_df["target"])
    cols = list(measures) if measures is not None else list(dict.fromkeys(df["measure"]))
    missing = sorted(set(cols) - set(df["measure"]))
    if missing:
        raise DivergenceError(f"measures {missing} are not in the pair table")
    rows = list(dict.fromkeys(df["pair"]))
    return df.pivot(index="pair", columns="measure", values="value").reindex(index=rows, columns=cols)


def plot_pair_table(mat: pd.DataFrame) -> matplotlib.figure.Figure:
    """The per-pair table as a heatmap: colour = value scaled to [0, 1] within each measure, text = the value."""
    import matplotlib.pyplot as plt

    from xner.figures import SEQUENTIAL_CMAP, style

    vals = mat.to_numpy(dtype=float)
    lo, hi = np.nanmin(vals, axis=0), np.nanmax(vals, axis=0)
    scaled = (vals - lo) / np.where(hi > lo, hi - lo, 1.0)
    n_r, n_c = vals.shape
    with style():
        fig, ax = plt.subplots(figsize=(1.5 + 0.55 * n_c, 0.8 + 0.3 * n_r))
        ax.imshow(scaled, cmap=SEQUENTIAL_CMAP, aspect="auto", vmin=0, vmax=1)
        ax.set_xticks(range(n_c), mat.columns, rotation=60, ha="right")
        ax.set_yticks(range(n_r), mat.index)
        for i in range(n_r):
            for j in range(n_c):
                if np.isfinite(vals[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{vals[i, j]:.3g}",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if scaled[i, j] < 0.5 else "black",
                    )
        ax.set_title("per-pair divergences (colour scaled within each measure)")
    return fig


__all__ = [
    "DEFAULT_SMOOTHING",
    "DivergenceError",
    "FlatSplit",
    "OVERLAPS",
    "PairDivergence",
    "STATISTICS",
    "SplitProfile",
    "OverlapIndex",
    "SubwordEncoder",
    "aligned",
    "all_pairs",
    "check_measures",
    "compare",
    "compare_profiles",
    "distributions",
    "families",
    "figure_stem",
    "flatten",
    "harmonize",
    "js_divergence",
    "kl_divergence",
    "length_wasserstein",
    "load_profiles",
    "local_languages",
    "local_pairs",
    "matrix",
    "measure_kind",
    "measure_names",
    "pair_matrix",
    "pair_table",
    "plot_heatmap",
    "plot_pair_table",
    "profile_split",
    "resolve_tokenizer",
    "split_measure",
    "write_tables",
]
