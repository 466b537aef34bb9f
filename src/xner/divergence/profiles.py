"""Split profiles: the distributions and vocabularies of one labelled split that transfer may depend on.

:class:`SplitProfile` holds type mix, span lengths (pooled and per type), entities per sentence, tag bigrams and
the vocabularies behind the overlap measures; :class:`SubwordSplitter` adapts any tokenizer for the subword
overlap measures; :func:`harmonize` puts two label sets on one by an explicit, reported mapping.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from xner.data import label_set_of, map_labels
from xner.divergence.measures import _PER_TYPE, DivergenceError
from xner.labels import LabelSet, MappingReport, get_label_set

BOS, EOS = "<s>", "</s>"  # sentence boundaries in the tag-bigram (transitions) distribution


if TYPE_CHECKING:
    import datasets


@dataclass(frozen=True)
class SubwordSplitter:
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


def resolve_tokenizer(tokenizer: Any) -> SubwordSplitter:
    """Accept a ``tokenizers.Tokenizer``, a ``transformers`` tokenizer, a ``tokenizer.json`` path, or a folder/name.

    A folder holding ``tokenizer.json`` loads with ``tokenizers``; any other folder or a hub name goes through
    ``transformers.AutoTokenizer.from_pretrained`` (which needs the hub for names not cached).
    """
    if isinstance(tokenizer, SubwordSplitter):
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

        return SubwordSplitter(
            getattr(hf, "name_or_path", "") or type(hf).__name__, encode_hf, getattr(hf, "unk_token_id", None)
        )
    raise DivergenceError(
        f"tokenizer of type {type(tokenizer).__name__} is not supported; pass a tokenizers.Tokenizer, a transformers "
        f"tokenizer, a tokenizer.json path or a folder"
    )


def _from_tokenizers(tok: Any, name: str) -> SubwordSplitter:
    """Wrap a ``tokenizers.Tokenizer``; its unknown token is the model's ``unk_token`` (or ``[UNK]``/``<unk>``)."""

    def encode(words: list[str]) -> list[list[int]]:
        return [e.ids for e in tok.encode_batch(words, add_special_tokens=False)]

    unk = None
    for cand in (getattr(tok.model, "unk_token", None), "[UNK]", "<unk>"):
        if cand and tok.token_to_id(cand) is not None:
            unk = tok.token_to_id(cand)
            break
    return SubwordSplitter(name, encode, unk)


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


def harmonize(
    source: datasets.Dataset,
    target: datasets.Dataset,
    type_map: Mapping[str, str | None] | None = None,
    label_set: LabelSet | str | None = None,
) -> tuple[datasets.Dataset, datasets.Dataset, list[MappingReport]]:
    """Put two splits on one label set by an explicit type mapping; return both and the mapping reports.

    When both splits already share a label set and neither ``type_map`` nor ``label_set`` is given, nothing
    changes and no report is made. Otherwise both are mapped onto ``label_set`` (default: the target's) with
    :func:`xner.data.map_labels`, using the entries of ``type_map`` that apply to each side (e.g.
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
