"""Where NER splits come from, and loading them as ``datasets.Dataset`` objects.

One call, :func:`load_split`, finds a split in this order: an explicit ``path`` → the data setting
(``XNER_DATA_DIR``) → the cache (a hub download saved earlier) → the Hugging Face hub (maintained parquet
copies: ``unimelb-nlp/wikiann``, ``masakhane/masakhaner2``, ``lhoestq/conll2003``). With none of them it stops
with a message that says how to point xner at data.
Any local CoNLL/IOB/TSV file or folder loads through :func:`read_conll`.

Where each split came from is explicit: :func:`resolve_split` says it without loading, :func:`load_split` logs it
and puts it at the head of ``ds.info.description``, ``xner check-data`` reports it for every split a run needs.
A language marked local in ``configs/languages.yaml`` that the data folder lacks is refused rather than taken from
the cache or the hub (their splits are cut differently) unless mixing is allowed; hub and cached copies get the
label-set and IOB2 checks local files get. A language not in ``languages.yaml`` loads from local files.

A study whose languages come from different datasets names them per language: ``"conll2002,en=conll2003"`` is
CoNLL-2002 for every language but English, which is CoNLL-2003 (:func:`dataset_for`). Every function that takes a
``dataset`` accepts this form, so a method, a transfer setting or a notebook parameter needs nothing else.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets

from xner import config
from xner.config import ConfigError
from xner.conll import DataFormatError
from xner.data.dataset import features, from_lists, read_conll, tag_names
from xner.labels import (
    CONLL,
    MASAKHANER,
    WIKIANN,
    LabelError,
    LabelSet,
    get_label_set,
    repair_iob2,
    validate_iob2,
)

log = logging.getLogger(__name__)


SPLITS = ("train", "dev", "test")


# File stems accepted for each split when discovering files in a folder.
_SPLIT_ALIASES = {"train": ("train",), "dev": ("dev", "validation", "valid", "val", "testa"), "test": ("test", "testb")}


_SUFFIXES = (".tsv", ".txt", ".conll", ".iob", ".iob2", ".bio", "")


@dataclass(frozen=True)
class DatasetSpec:
    """How one named dataset is laid out locally and where it lives on the hub."""

    name: str
    label_set: LabelSet
    hub_id: str | None
    has_splits: bool = True  # False: one file per language (a parallel test set)
    # The hub copy's languages when it holds only some (None: one hub config per language, named by its code),
    # and the config they load from (None: the repository's default).
    hub_languages: tuple[str, ...] | None = None
    hub_config: str | None = None


DATASETS: dict[str, DatasetSpec] = {
    "wikiann": DatasetSpec("wikiann", WIKIANN, "unimelb-nlp/wikiann"),
    "masakhaner": DatasetSpec("masakhaner", MASAKHANER, "masakhane/masakhaner2"),
    "conll2002": DatasetSpec("conll2002", CONLL, None),
    # CoNLL-2003 English. eriktks/conll2003 (the former canonical ``conll2003``) is a loading script, which
    # ``datasets`` ≥ 4 no longer runs; lhoestq/conll2003 is the parquet copy kept by a ``datasets`` maintainer,
    # with the same splits and the same ClassLabel order (O PER ORG LOC MISC), which _load_from_hub checks.
    "conll2003": DatasetSpec("conll2003", CONLL, "lhoestq/conll2003", hub_languages=("en",)),
    "europarl": DatasetSpec("europarl", CONLL, None, has_splits=False),
}


class DataNotFoundError(FileNotFoundError):
    """No source (path, data setting, cache or hub) could provide the requested split."""


def data_dir() -> Path | None:
    """Return the local data folder (``XNER_DATA_DIR``), or ``None`` when unset."""
    return config.data_dir()


def use_data_dir(path: str | Path | None) -> Path | None:
    """Point ``XNER_DATA_DIR`` at ``path`` for this process (``None`` leaves the setting as it is)."""
    if path is not None:
        os.environ[config.DATA_ENV] = str(Path(path).expanduser().resolve())
    return data_dir()


def find_split_file(folder: str | Path, split: str) -> Path:
    """Find the file of ``split`` (train/dev/test and their usual aliases) in ``folder``."""
    folder = Path(folder)
    if split not in _SPLIT_ALIASES:
        raise DataNotFoundError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    found = [folder / f"{stem}{suf}" for stem in _SPLIT_ALIASES[split] for suf in _SUFFIXES]
    found = [p for p in found if p.is_file()]
    if not found:
        names = ", ".join(f"{s}.tsv" for s in _SPLIT_ALIASES[split])
        raise DataNotFoundError(f"{folder}: no {split} file (looked for {names} and .txt/.conll/.iob variants)")
    if len(found) > 1:
        raise DataNotFoundError(
            f"{folder}: several files could be the {split} split: {', '.join(p.name for p in found)}"
        )
    return found[0]


def dataset_for(dataset: str, lang: str) -> str:
    """The dataset ``lang`` comes from under ``dataset``: a name (``conll2002``), or a default name followed by
    per-language choices, ``"conll2002,en=conll2003"`` (English from CoNLL-2003, the others from CoNLL-2002)."""
    if "," not in dataset and "=" not in dataset:
        return dataset
    default, *rest = [part.strip() for part in dataset.split(",")]
    chosen: dict[str, str] = {}
    for part in rest:
        code, sep, name = (x.strip() for x in part.partition("="))
        if not sep or not code or not name or "=" in name:
            raise DataNotFoundError(
                f"dataset {dataset!r}: {part!r} is not lang=dataset; expected e.g. 'conll2002,en=conll2003'"
            )
        if code in chosen:
            raise DataNotFoundError(f"dataset {dataset!r}: language {code!r} is given twice")
        chosen[code] = name
    if "=" in default or not default:
        raise DataNotFoundError(
            f"dataset {dataset!r}: the first part must be the default dataset; expected e.g. 'conll2002,en=conll2003'"
        )
    for name in (default, *chosen.values()):
        _spec(name)
    return chosen.get(lang, default)


def _spec(dataset: str) -> DatasetSpec:
    if dataset not in DATASETS:
        raise DataNotFoundError(
            f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)} (or pass path=... for any CoNLL file)"
        )
    return DATASETS[dataset]


def local_path(dataset: str, lang: str, split: str, root: Path) -> Path | None:
    """Where ``dataset``/``lang``/``split`` lives under a data folder laid out like ``../shared/data``."""
    spec = _spec(dataset)
    if not spec.has_splits:
        p = root / dataset / f"{lang}.tsv"
        return p if p.is_file() else None
    folder = root / dataset / lang
    if not folder.is_dir():
        return None
    return find_split_file(folder, split)


def _cache_path(dataset: str, lang: str, split: str) -> Path:
    return config.cache_dir() / "datasets" / dataset / lang / split


MIXED_ENV = "XNER_ALLOW_MIXED_SOURCES"


SOURCE_KINDS = ("path", "data setting", "cache", "hub")


_LANG_CODE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


@dataclass(frozen=True)
class SplitSource:
    """Where one split comes from: ``kind`` is ``path``, ``data setting``, ``cache`` or ``hub``."""

    dataset: str
    lang: str
    split: str
    kind: str
    location: str
    note: str = ""

    def __str__(self) -> str:
        return f"{self.dataset}/{self.lang}/{self.split}: {self.kind} ({self.location})" + (
            f"; {self.note}" if self.note else ""
        )


def _language_note(lang: str) -> tuple[bool, str]:
    """Whether ``lang`` is configured, and the note to attach when it is not."""
    if not _LANG_CODE.match(lang):
        raise ConfigError(f"language code {lang!r}: expected an ISO code such as 'sw', 'hau' or 'pt-BR'")
    if lang in config.languages():
        return True, ""
    return False, (
        f"language {lang!r} is not in configs/languages.yaml: its data loads from local files, but stages that "
        "need its metadata say so (e.g. no Faker locale for foreign names); add it there to give them"
    )


def _allow_mixed(allow_mixed: bool | None) -> bool:
    if allow_mixed is not None:
        return allow_mixed
    return os.environ.get(MIXED_ENV, "") not in ("", "0")


def _refuse_mixing(spec: DatasetSpec, lang: str, split: str, root: Path) -> None:
    """Refuse to take a language marked local from the cache or hub when the data folder lacks it."""
    if spec.name != "wikiann" or not (root / spec.name).is_dir() or not config.languages()[lang].local:
        return
    raise DataNotFoundError(
        f"{spec.name}/{lang}/{split}: {lang} is marked local in configs/languages.yaml but {root / spec.name / lang} "
        f"does not exist, so it would come from the cache or the hub, whose splits are cut differently (the local "
        f"test split is cut from PAN-X dev). Mixing local and hub splits of {spec.name} is refused: add the files "
        f"under {root / spec.name / lang}/, or allow it with allow_mixed=True (or {MIXED_ENV}=1)"
    )


def resolve_split(
    lang: str,
    split: str,
    dataset: str = "wikiann",
    *,
    path: str | Path | None = None,
    hub: bool = True,
    allow_mixed: bool | None = None,
) -> SplitSource:
    """Say where :func:`load_split` would take a split from, without loading it (see there for the order).

    Raises :class:`DataNotFoundError` when no source has it, or when a language marked local in
    ``configs/languages.yaml`` is missing from the data folder (unless ``allow_mixed``); raises
    :class:`~xner.config.ConfigError` for a language that is neither configured nor in local files.
    """
    dataset = dataset_for(dataset, lang)
    spec = _spec(dataset)
    if split not in SPLITS:
        raise DataNotFoundError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    configured, note = _language_note(lang)
    if path is not None:
        p = Path(path)
        if p.is_dir():
            p = find_split_file(p, split)
        elif not p.is_file():
            raise DataNotFoundError(f"{p}: no such file or folder")
        return SplitSource(dataset, lang, split, "path", str(p), note)
    root = data_dir()
    if root is not None:
        p = local_path(dataset, lang, split, root)
        if p is not None:
            return SplitSource(dataset, lang, split, "data setting", str(p), note)
    where = f"{root}/{dataset}/{lang}/" if root is not None else f"${config.DATA_ENV} (unset)"
    if not configured:
        raise ConfigError(
            f"unknown language {lang!r}: not in configs/languages.yaml ({', '.join(sorted(config.languages()))}) and "
            f"no local files in {where}; pass path=... to load its files, or add it to configs/languages.yaml"
        )
    if root is not None and not _allow_mixed(allow_mixed):
        _refuse_mixing(spec, lang, split, root)
    cached = _cache_path(dataset, lang, split)
    if (cached / "dataset_info.json").is_file():
        return SplitSource(dataset, lang, split, "cache", str(cached))
    if hub and spec.hub_id is not None and spec.hub_languages is not None and lang not in spec.hub_languages:
        raise DataNotFoundError(
            f"{dataset}/{lang}/{split}: not found in {where}, nor in the cache {cached}; the hub copy "
            f"{spec.hub_id} has only {', '.join(spec.hub_languages)}. Point xner at data: export "
            f"{config.DATA_ENV}=/path/to/data (laid out as <dataset>/<lang>/<split>.tsv) or pass path=..."
        )
    if not hub or spec.hub_id is None:
        raise DataNotFoundError(
            f"{dataset}/{lang}/{split}: not found in {where}, nor in the cache {cached}"
            + ("" if spec.hub_id else f"; {dataset} has no hub copy")
            + f". Point xner at data: export {config.DATA_ENV}=/path/to/data "
            "(laid out as <dataset>/<lang>/<split>.tsv) or pass path=..."
        )
    return SplitSource(dataset, lang, split, "hub", f"{spec.hub_id}, config {_hub_config(spec, lang)!r}")


def load_split(
    lang: str,
    split: str,
    dataset: str = "wikiann",
    *,
    path: str | Path | None = None,
    label_set: LabelSet | str | None = None,
    repair: bool = False,
    hub: bool = True,
    lang_prefix: bool | None = None,
    allow_mixed: bool | None = None,
) -> datasets.Dataset:
    """Load one split of a dataset for a language.

    Looks in order: ``path`` (a file, or a folder with train/dev/test files) → ``XNER_DATA_DIR`` laid out as
    ``<dataset>/<lang>/<split>.tsv`` → the cache of earlier hub downloads → the hub (if ``hub``). Where the split
    came from is logged and written at the start of ``ds.info.description`` (see :func:`resolve_split`).

    Args:
        lang: ISO code of the language; one not in ``configs/languages.yaml`` loads from local files only.
        split: ``train``, ``dev`` or ``test`` (ignored for single-file sets such as ``europarl``).
        dataset: ``wikiann``, ``masakhaner``, ``conll2002``, ``conll2003`` or ``europarl``, or one per language
            (``"conll2002,en=conll2003"``, see :func:`dataset_for`).
        path: an explicit file or folder; takes precedence over everything else.
        label_set: labels the data must use (default: the dataset's canonical set).
        repair: repair ``I-`` without ``B-`` instead of raising (counted and logged), for files and hub copies.
        hub: allow downloading from the Hugging Face hub as the last resort.
        lang_prefix: ``False`` keeps ``lang:``-like prefixes of tokens (``None`` detects them).
        allow_mixed: take a language marked local from the cache/hub although the data folder lacks it
            (default: the ``XNER_ALLOW_MIXED_SOURCES`` setting, else refused).
    """
    dataset = dataset_for(dataset, lang)
    spec = _spec(dataset)
    src = resolve_split(lang, split, dataset, path=path, hub=hub, allow_mixed=allow_mixed)
    ls = get_label_set(label_set) if label_set is not None else spec.label_set
    if src.kind in ("path", "data setting"):
        ds = read_conll(Path(src.location), lang=lang, label_set=ls, repair=repair, lang_prefix=lang_prefix)
    elif src.kind == "cache":
        ds = _check_copy(datasets.load_from_disk(src.location), ls, src.location, repair)
    else:
        ds = _load_from_hub(spec, lang, split, ls, _cache_path(dataset, lang, split), repair)
    log.info("%s", src)
    ds.info.description = f"{src}. {ds.info.description or ''}".strip()
    return ds


def source_report(
    langs: Sequence[str], dataset: str = "wikiann", splits: Sequence[str] = SPLITS, *, hub: bool = True
) -> tuple[list[SplitSource], list[str]]:
    """Where each split of each language would come from, and the problems (one message per unloadable split)."""
    found: list[SplitSource] = []
    problems: list[str] = []
    for lang in langs:
        for split in splits:
            try:
                found.append(resolve_split(lang, split, dataset, hub=hub))
            except (DataNotFoundError, ConfigError) as exc:
                problems.append(str(exc))
    return found, problems


_HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


_MASAKHANER_CODES = {
    "yo": "yor",
    "sw": "swa",
    "ha": "hau",
    "ig": "ibo",
    "rw": "kin",
    "lg": "lug",
    "luo": "luo",
    "wo": "wol",
    "am": "amh",
    "pcm": "pcm",
    "zu": "zul",
    "xh": "xho",
    "tn": "tsn",
    "tw": "twi",
    "fon": "fon",
    "ee": "ewe",
    "mos": "mos",
    "ny": "nya",
    "sn": "sna",
    "bm": "bam",
    "bbj": "bbj",
}


def _hub_config(spec: DatasetSpec, lang: str) -> str | None:
    if spec.hub_languages is not None:
        return spec.hub_config
    return _MASAKHANER_CODES.get(lang, lang) if spec.name == "masakhaner" else lang


def _check_copy(ds: datasets.Dataset, ls: LabelSet, where: str, repair: bool) -> datasets.Dataset:
    """Give a hub or cached copy the checks a local file gets: the label set, its order, and strict IOB2."""
    if "ner_tags" not in ds.column_names or "tokens" not in ds.column_names:
        raise DataFormatError(f"{where}: expected columns tokens and ner_tags, got {ds.column_names}")
    inner = getattr(ds.features["ner_tags"], "feature", None)
    names = tuple(getattr(inner, "names", ()))
    if names != ls.labels:
        raise LabelError(
            f"{where}: labels {list(names)} differ from the expected {ls.name} order {ls.labels}; "
            "delete the copy to download it again, or pass the matching label_set"
        )
    tags = tag_names(ds)
    bad = [i for i, t in enumerate(tags) if validate_iob2(t)]
    if not bad:
        return ds
    if not repair:
        p = validate_iob2(tags[bad[0]])[0]
        raise DataFormatError(
            f"{where}: sentence {bad[0]}, token {p.position}: invalid IOB2: {p.message}; pass repair=True to turn "
            f"it into B- (counted); {len(bad)} sentences have such tags"
        )
    n = 0
    for i in bad:
        tags[i], k = repair_iob2(tags[i])
        n += k
    log.info("%s: repaired %d I- tags in %d sentences", where, n, len(bad))
    out = from_lists(ds["tokens"], tags, langs=ds["langs"] if "langs" in ds.column_names else None, label_set=ls)
    out.info.description = f"{n} tags repaired"
    return out


def _load_from_hub(
    spec: DatasetSpec, lang: str, split: str, ls: LabelSet, cached: Path, repair: bool = False
) -> datasets.Dataset:
    """Download a split from the hub's parquet copy, check its labels, normalise its columns, cache it."""
    name = _hub_config(spec, lang)
    try:
        raw = datasets.load_dataset(spec.hub_id, name, split=_HUB_SPLITS[split])
    except Exception as exc:  # the hub raises many types (ConnectionError, OfflineModeIsEnabled, HfHubHTTPError…)
        raise DataNotFoundError(
            f"{spec.name}/{lang}/{split}: not found locally and the hub ({spec.hub_id}, config {name!r}) "
            f"failed: {type(exc).__name__}: {exc}. Point xner at local data: export {config.DATA_ENV}=/path/to/data "
            f"(laid out as <dataset>/<lang>/<split>.tsv) or pass path=..."
        ) from exc
    inner = raw.features["ner_tags"].feature
    if tuple(inner.names) != ls.labels:
        raise LabelError(
            f"{spec.hub_id}/{name}: labels {inner.names} differ from the expected {ls.name} order {ls.labels}"
        )
    if "langs" not in raw.column_names:
        raw = raw.map(lambda ex: {"langs": [lang] * len(ex["tokens"])})
    ds = raw.select_columns(["tokens", "ner_tags", "langs"]).cast(features(ls))
    tmp = cached.with_name(cached.name + ".tmp")
    ds.save_to_disk(str(tmp))
    if cached.exists():
        import shutil

        shutil.rmtree(cached)
    tmp.rename(cached)
    return _check_copy(ds, ls, f"{spec.hub_id}/{name}/{split}", repair)


def check_data_source(timeout: float = 5.0) -> str:
    """Say where the main job will take its data from: the data setting, else the hub; else raise.

    Returns a one-line description. Raises :class:`DataNotFoundError` at once, with the way to point xner at
    data, when ``XNER_DATA_DIR`` is unset and the hub cannot be reached (or ``HF_HUB_OFFLINE`` is set).
    """
    import urllib.request

    root = data_dir()
    if root is not None:
        if not (root / "wikiann").is_dir():
            raise DataNotFoundError(
                f"{config.DATA_ENV}={root} has no wikiann/ folder (expected wikiann/<lang>/<split>.tsv)"
            )
        return f"local data: {root}"
    how = (
        f"Point xner at data: export {config.DATA_ENV}=/path/to/data (a folder laid out as "
        "wikiann/<lang>/{train,dev,test}.tsv, like ../shared/data), or run where the Hugging Face hub is reachable."
    )
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or os.environ.get("HF_DATASETS_OFFLINE", "") not in (
        "",
        "0",
    ):
        raise DataNotFoundError(f"{config.DATA_ENV} is unset and HF_HUB_OFFLINE is set. {how}")
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        urllib.request.urlopen(f"{endpoint}/api/datasets/unimelb-nlp/wikiann", timeout=timeout).close()
    except OSError as exc:
        raise DataNotFoundError(
            f"{config.DATA_ENV} is unset and the hub ({endpoint}) cannot be reached ({exc}). {how}"
        ) from None
    return f"the Hugging Face hub ({endpoint})"


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE`` forbids hub downloads."""
    return any(os.environ.get(v, "") not in ("", "0") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def check_pairs_data(pairs: Sequence[config.Pair] | None = None) -> tuple[list[str], list[str]]:
    """Check that every split the pairs need (both languages, train/dev/test of WikiANN) has a source.

    Returns (report lines: one per language, saying where each split comes from; problems). A problem is a
    split no source has, a language marked local that the data folder lacks (mixing refused), or a split that
    needs the hub while ``HF_HUB_OFFLINE`` is set.
    """
    pairs = config.pairs() if pairs is None else list(pairs)
    langs = list(dict.fromkeys(lang for p in pairs for lang in (p.source, p.target)))
    found, problems = source_report(langs)
    lines: list[str] = []
    for lang in langs:
        mine = [s for s in found if s.lang == lang]
        kinds = sorted({s.kind for s in mine})
        users = ", ".join(p.name for p in pairs if lang in (p.source, p.target))
        lines.append(f"{lang}: {' + '.join(kinds) or 'no source'} ({len(mine)}/{len(SPLITS)} splits; pairs {users})")
        if hub_offline() and "hub" in kinds:
            problems.append(f"{lang}: needs the Hugging Face hub (pairs {users}), but HF_HUB_OFFLINE is set")
    return lines, problems


def available_languages(dataset: str = "wikiann") -> list[str]:
    """Languages of ``dataset`` present in the local data folder (empty when ``XNER_DATA_DIR`` is unset)."""
    root = data_dir()
    if root is None or not (root / dataset).is_dir():
        return []
    if not _spec(dataset).has_splits:
        return sorted(p.stem for p in (root / dataset).glob("*.tsv"))
    return sorted(p.name for p in (root / dataset).iterdir() if p.is_dir())
