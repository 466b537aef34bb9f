"""NER splits as Hugging Face ``datasets.Dataset`` objects with ``tokens``, ``ner_tags`` (``ClassLabel``) and
``langs``: building them from lists, reading and writing CoNLL files, their label sets, explicit label mapping.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import chain
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets.fingerprint import generate_random_fingerprint
from datasets.table import InMemoryTable

from xner.conll import parse_conll
from xner.conll import write_conll as _write_lines
from xner.labels import (
    CONLL,
    MASAKHANER,
    WIKIANN,
    LabelError,
    LabelSet,
    MappingReport,
    get_label_set,
    infer_label_set,
    map_tags,
    resolve_type_map,
)

log = logging.getLogger(__name__)


def features(label_set: LabelSet) -> datasets.Features:
    """The features of every xner dataset: ``tokens``, ``ner_tags`` (ClassLabel) and ``langs``."""
    return datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(label_set.class_label()),
            "langs": datasets.Sequence(datasets.Value("string")),
        }
    )


def from_lists(
    tokens: Sequence[Sequence[str]],
    tags: Sequence[Sequence[str]],
    *,
    lang: str | None = None,
    langs: Sequence[Sequence[str]] | None = None,
    label_set: LabelSet | str | None = None,
) -> datasets.Dataset:
    """Build a dataset from token and IOB2 tag-string lists (``lang`` for all words, or ``langs`` per word)."""
    if len(tokens) != len(tags):
        raise LabelError(f"{len(tokens)} token sentences but {len(tags)} tag sentences")
    if label_set is None:
        label_set = infer_label_set({t[2:] for sent in tags for t in sent if t != "O"})
    label_set = get_label_set(label_set)
    # Build the Arrow columns directly from flat arrays and offsets: Dataset.from_dict encodes every element
    # in Python and is about ten times slower on the 1.6M tokens of the local data.
    lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
    tag_lengths = np.fromiter((len(t) for t in tags), dtype=np.int64, count=len(tags))
    if (bad := np.flatnonzero(lengths != tag_lengths)).size:
        i = int(bad[0])
        raise LabelError(f"sentence {i}: {lengths[i]} tokens but {tag_lengths[i]} tags")
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), type=pa.int32())
    flat_tags = pa.array(list(chain.from_iterable(tags)), type=pa.string())
    ids = pc.index_in(flat_tags, value_set=pa.array(label_set.labels))
    if ids.null_count:
        pos = int(np.flatnonzero(ids.is_null().to_numpy(zero_copy_only=False))[0])
        i = int(np.searchsorted(np.cumsum(lengths), pos, side="right"))
        raise LabelError(
            f"sentence {i}: tag {flat_tags[pos].as_py()!r} is not in label set {label_set.name} "
            f"({' '.join(label_set.labels)})"
        )
    if langs is None:
        flat_langs = pa.repeat(pa.scalar(lang or "", pa.string()), len(flat_tags))
    else:
        flat_langs = pa.array(list(chain.from_iterable(langs)), type=pa.string())
        if len(flat_langs) != len(flat_tags):
            raise LabelError(f"langs hold {len(flat_langs)} entries for {len(flat_tags)} tokens")
    feats = features(label_set)
    table = pa.Table.from_arrays(
        [
            pa.ListArray.from_arrays(offsets, pa.array(list(chain.from_iterable(tokens)), type=pa.string())),
            pa.ListArray.from_arrays(offsets, ids.cast(pa.int64())),
            pa.ListArray.from_arrays(offsets, flat_langs),
        ],
        schema=feats.arrow_schema,
    )
    return datasets.Dataset(
        InMemoryTable(table), info=datasets.DatasetInfo(features=feats), fingerprint=generate_random_fingerprint()
    )


def label_set_of(ds: datasets.Dataset) -> LabelSet:
    """Return the label set of a dataset's ``ner_tags`` ClassLabel (a registered one when the names match)."""
    feat = ds.features["ner_tags"]
    inner = getattr(feat, "feature", None) or feat[0]
    names = tuple(inner.names)
    for ls in (WIKIANN, MASAKHANER, CONLL):
        if ls.labels == names:
            return ls
    return LabelSet("custom", names)


def tag_names(ds: datasets.Dataset) -> list[list[str]]:
    """Return each sentence's tags as IOB2 strings."""
    names = label_set_of(ds).labels
    # Read the column through Arrow: ds["ner_tags"] decodes row by row in Python, several times slower.
    col = ds.with_format("arrow")["ner_tags"]
    col = col.combine_chunks() if hasattr(col, "combine_chunks") else col
    flat = np.asarray(names, dtype=object)[col.flatten().to_numpy(zero_copy_only=False)].tolist()
    offsets = col.offsets.to_numpy()
    base = int(offsets[0])
    return [flat[a - base : b - base] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]


def read_conll(
    path: str | Path,
    *,
    lang: str | None = None,
    label_set: LabelSet | str | None = None,
    scheme: str = "IOB2",
    repair: bool = False,
    lang_prefix: bool | None = None,
) -> datasets.Dataset:
    """Load one local CoNLL/IOB/TSV file as a dataset (see :mod:`xner.conll` for the layouts accepted).

    ``lang`` fills ``langs`` unless the file carries ``lang:token`` prefixes (``lang_prefix=False`` keeps a
    first token such as ``en:wiki`` whole). Skipped ``-DOCSTART-`` lines, repaired tags and normalised line
    ends are counted and logged; every other problem raises with the file and line.
    """
    ls = get_label_set(label_set) if label_set is not None else None
    parsed = parse_conll(path, label_set=ls, scheme=scheme, repair=repair, lang_prefix=lang_prefix)
    if parsed.docstarts or parsed.repaired:
        log.info("%s: skipped %d -DOCSTART- lines, repaired %d tags", path, parsed.docstarts, parsed.repaired)
    for note in parsed.notes:
        log.info("%s: %s", path, note)
    ds = from_lists(parsed.tokens, parsed.tags, lang=lang, langs=parsed.langs, label_set=parsed.label_set)
    ds.info.description = (
        f"{path} ({len(parsed.tokens)} sentences, {parsed.docstarts} -DOCSTART- skipped, "
        f"{parsed.repaired} tags repaired{''.join('; ' + n for n in parsed.notes)})"
    )
    return ds


def write_conll(ds: datasets.Dataset, path: str | Path) -> Path:
    """Write a dataset back to a ``token<TAB>tag`` file (IOB2 tag names)."""
    return _write_lines(ds["tokens"], tag_names(ds), path)


def map_labels(
    ds: datasets.Dataset, target: LabelSet | str, type_map: dict[str, str | None] | None = None
) -> tuple[datasets.Dataset, MappingReport]:
    """Map a dataset's ``ner_tags`` onto another label set, explicitly, and report what happened per type."""
    target = get_label_set(target)
    source = label_set_of(ds)
    full = resolve_type_map(source, target, type_map)
    report = MappingReport(source=source.name, target=target.name, type_map=full)
    new_tags = [map_tags(t, full, report) for t in tag_names(ds)]
    langs = ds["langs"] if "langs" in ds.column_names else None
    return from_lists(ds["tokens"], new_tags, langs=langs, label_set=target), report
