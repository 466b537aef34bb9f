"""Divergence tables over languages and pairs: profiles of local splits, all-pairs and per-pair tables, writing them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from xner.config import DATA_ENV, data_dir, parse_pair
from xner.data import available_languages, load_split
from xner.divergence.compare import OverlapIndex, compare_profiles, measure_kind, split_measure
from xner.divergence.measures import DEFAULT_SMOOTHING, DivergenceError
from xner.divergence.profiles import SplitProfile, harmonize, profile_split, resolve_tokenizer
from xner.signature import signature, write_table

if TYPE_CHECKING:
    import datasets


def load_profiles(
    languages: Sequence[str],
    split: str,
    dataset: str = "wikiann",
    *,
    tokenizer: Any = None,
    loader: Callable[..., datasets.Dataset] | None = None,
) -> dict[str, SplitProfile]:
    """Profile ``split`` of ``dataset`` for each language (named ``<lang>/<split>``), loading with ``xner.data``."""
    load = loader or load_split
    enc = resolve_tokenizer(tokenizer) if tokenizer is not None else None
    return {lang: profile_split(load(lang, split, dataset), f"{lang}/{split}", tokenizer=enc) for lang in languages}


def local_languages(dataset: str = "wikiann") -> list[str]:
    """Languages with local data for ``dataset`` (``XNER_DATA_DIR/<dataset>/*``); an error when there are none."""
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
    out = []
    base = {"stage": "02_divergence", "js_base": 2, **dict(sig_fields or {})}
    for name, df in (("all_pairs", all_pairs_df), ("pairs", pairs_df)):
        if df is None:
            continue
        skipped = [" ".join(map(str, s)) for s in df.attrs.get("skipped", [])]
        sig = signature(table=name, skipped_measures=len(skipped), skipped=skipped, **base)
        out.append(write_table(df, Path(out_dir) / f"{name}.csv", sig))
    return out


def pair_matrix(pairs_df: pd.DataFrame, measures: Sequence[str] | None = None) -> pd.DataFrame:
    """A per-pair table as a matrix: rows ``src→tgt``, columns measures (all, or the ones given, in that order)."""
    df = pairs_df.assign(pair=pairs_df["source"] + "→" + pairs_df["target"])
    cols = list(measures) if measures is not None else list(dict.fromkeys(df["measure"]))
    missing = sorted(set(cols) - set(df["measure"]))
    if missing:
        raise DivergenceError(f"measures {missing} are not in the pair table")
    rows = list(dict.fromkeys(df["pair"]))
    return df.pivot(index="pair", columns="measure", values="value").reindex(index=rows, columns=cols)
