"""Paths, settings and the language/pair configuration (``configs/languages.yaml``).

Settings are environment variables:

* ``XNER_DATA_DIR`` — folder with local data (``wikiann/<lang>/{train,dev,test}.tsv``, ``conll2002/``,
  ``europarl/``); in CI it points at ``../shared/data``.
* ``XNER_CACHE_DIR`` — converted models, pretrained mini encoders, translations (default ``~/.cache/xner``).
* ``XNER_RESULTS_DIR`` — where stages write tables and executed notebooks (default ``<repo>/results``).
* ``XNER_FIGURES_DIR`` — where stages write figures (default ``<results>/figures`` when ``XNER_RESULTS_DIR``
  is set, else ``<repo>/figures``).
* ``XNER_CONFIG_DIR`` — an alternative ``configs/`` folder (default ``<repo>/configs``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import yaml

DATA_ENV = "XNER_DATA_DIR"


class ConfigError(ValueError):
    """A configuration file or setting is missing or malformed."""


def repo_root() -> Path:
    """Return the root of the xner checkout (the folder holding ``configs/`` and ``notebooks/``)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "configs" / "languages.yaml").is_file():
            return parent
    return Path.cwd()


def config_dir() -> Path:
    """Return the configuration folder (``XNER_CONFIG_DIR`` or ``<repo>/configs``)."""
    return Path(os.environ.get("XNER_CONFIG_DIR", repo_root() / "configs"))


def results_dir() -> Path:
    """Return the results folder (``XNER_RESULTS_DIR`` or ``<repo>/results``)."""
    return Path(os.environ.get("XNER_RESULTS_DIR", repo_root() / "results"))


def figures_dir(results_root: str | Path | None = None) -> Path:
    """Return the figures folder: ``XNER_FIGURES_DIR``; else ``<results root>/figures`` when the results root
    was moved (``results_root`` given and not the default results folder, or ``XNER_RESULTS_DIR`` set), so a run
    never writes into the repository unasked; else ``<repo>/figures``."""
    if os.environ.get("XNER_FIGURES_DIR"):
        return Path(os.environ["XNER_FIGURES_DIR"])
    if results_root is not None and Path(results_root).resolve() != results_dir().resolve():
        return Path(results_root) / "figures"
    if os.environ.get("XNER_RESULTS_DIR"):
        return results_dir() / "figures"
    return repo_root() / "figures"


@overload
def resolve_path(value: str | Path) -> Path: ...
@overload
def resolve_path(value: None) -> None: ...
def resolve_path(value: str | Path | None) -> Path | None:
    """Resolve a folder or file given as a notebook parameter, the same whatever folder the kernel started in.

    An absolute path is kept. A relative path starting with ``results`` or ``figures`` lies under the results or
    figures folder (:func:`results_dir`, :func:`figures_dir`: ``results/all/01_data_inspection`` is
    ``$XNER_RESULTS_DIR/all/01_data_inspection``, by default ``<repo>/results/all/01_data_inspection``); any
    other relative path lies under the repository root (:func:`repo_root`). ``None`` stays ``None``.
    """
    if value is None:
        return None
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    head, rest = path.parts[0], Path(*path.parts[1:])
    if head == "results":
        return results_dir() / rest
    if head == "figures":
        return figures_dir() / rest
    return repo_root() / path


def cache_dir() -> Path:
    """Return the cache folder for models and translations (``XNER_CACHE_DIR`` or ``~/.cache/xner``)."""
    return Path(os.environ.get("XNER_CACHE_DIR", Path.home() / ".cache" / "xner"))


def data_dir() -> Path | None:
    """Return the local data folder named by ``XNER_DATA_DIR``, or ``None`` when the setting is absent.

    Raises :class:`ConfigError` when the setting names a folder that does not exist, so a typo is never
    mistaken for "no local data".
    """
    value = os.environ.get(DATA_ENV)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{DATA_ENV}={value!r} is not a folder; point it at a folder holding wikiann/<lang>/*.tsv")
    return path


@dataclass(frozen=True)
class Language:
    """Metadata of one language, as written in ``configs/languages.yaml``."""

    code: str
    name: str
    script: str
    family: str
    resource: str
    local: bool
    faker_locale: str | None = None


@dataclass(frozen=True)
class Pair:
    """A source → target language pair."""

    source: str
    target: str
    group: str
    why: str = ""

    @property
    def name(self) -> str:
        """The pair as ``src-tgt``, the form used in paths and on the command line."""
        return f"{self.source}-{self.target}"

    @property
    def needs_hub(self) -> bool:
        """True when either language is absent from the local data, so the hub loaders are required."""
        langs = languages()
        return not all(code in langs and langs[code].local for code in (self.source, self.target))


_LANG_FIELDS = {"name", "script", "family", "resource", "local", "faker_locale"}


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        with path.open(encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except yaml.YAMLError as exc:  # syntax errors and unsafe tags (!!python/object …) alike
        detail = " ".join(str(exc).split())
        raise ConfigError(f"{path}: not valid (safe) YAML: {detail}; fix the file (no !!python tags)") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 ({exc}); save the file as UTF-8") from None
    if not isinstance(raw, dict) or "languages" not in raw or "pairs" not in raw:
        raise ConfigError(f"{path}: expected top-level keys 'languages' and 'pairs'")
    return raw


def languages() -> dict[str, Language]:
    """Return every configured language by ISO code, from ``configs/languages.yaml``."""
    path = config_dir() / "languages.yaml"
    out: dict[str, Language] = {}
    table = _load(path)["languages"]
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: 'languages' must map ISO codes to fields, got {type(table).__name__}")
    for code, meta in table.items():
        if not isinstance(code, str) or not isinstance(meta, dict):
            raise ConfigError(f"{path}: language {code!r}: expected a code mapped to {{name: …, script: …}}")
        missing = {"name", "script", "family", "resource", "local"} - set(meta)
        unknown = set(meta) - _LANG_FIELDS
        if missing or unknown:
            raise ConfigError(f"{path}: language {code!r}: missing fields {sorted(missing)}, unknown {sorted(unknown)}")
        out[code] = Language(code=code, **meta)
    return out


def language(code: str) -> Language:
    """Return one language's metadata; an unknown code is an error listing the configured ones."""
    langs = languages()
    if code not in langs:
        raise ConfigError(
            f"unknown language {code!r}; configured in configs/languages.yaml: {', '.join(sorted(langs))}. "
            "Stages need its metadata there (name, script, family, resource, local, faker_locale); "
            "xner.data.load_split(code, split, path=...) reads its files without it"
        )
    return langs[code]


def pairs(group: str | None = None) -> list[Pair]:
    """Return the configured source → target pairs, optionally only one group (``study`` or ``local``)."""
    path = config_dir() / "languages.yaml"
    raw = _load(path)["pairs"]
    langs = languages()
    out: list[Pair] = []
    for grp, items in raw.items():
        if group is not None and grp != group:
            continue
        for item in items:
            for side in ("source", "target"):
                if item.get(side) not in langs:
                    raise ConfigError(f"{path}: pair {item} names language {item.get(side)!r} not under 'languages'")
            out.append(Pair(source=item["source"], target=item["target"], group=grp, why=item.get("why", "")))
    if group is not None and not out:
        raise ConfigError(f"{path}: no pairs in group {group!r}; groups: {', '.join(raw)}")
    return out


def parse_pair(text: str) -> Pair:
    """Parse ``src-tgt`` into a :class:`Pair`; the languages must be configured (the pair need not be)."""
    parts = text.split("-")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"pair {text!r}: expected the form SRC-TGT, for example id-ms")
    for p in pairs():
        if (p.source, p.target) == tuple(parts):
            return p
    language(parts[0])
    language(parts[1])
    return Pair(source=parts[0], target=parts[1], group="custom")


def domains() -> dict[str, dict[str, Any]]:
    """Return the other-domain evaluation sets (``domains:`` in ``configs/languages.yaml``)."""
    return dict(_load(config_dir() / "languages.yaml").get("domains", {}))
