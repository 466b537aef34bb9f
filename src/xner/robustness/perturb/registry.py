"""Perturbations by name: ``build("mask", ctx, rate=0.2)``, compositions as ``"mask+typos"``.

A :class:`PerturbationContext` carries what some perturbations need beyond the test set: the source
training data (what a transfer model has seen), a target corpus (entity pool, target vocabulary), word
vectors, a bilingual dictionary and the languages to draw foreign names from. When a perturbation's
resources are missing, :func:`build` either raises :class:`PerturbationUnavailable` or (with
``on_unavailable="record"``) returns an :class:`Unavailable` placeholder whose runs are reported as not
applied, with the reason — so a suite records the gap instead of silently leaving the row out.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xner import config
from xner.modeling.encoders import resolve_encoder
from xner.robustness.perturb.base import (
    ListResult,
    Perturbation,
    PerturbationReport,
    PerturbationUnavailable,
    PerturbationWarning,
    Tags,
    Tokens,
)
from xner.robustness.perturb.codeswitch import CodeSwitch
from xner.robustness.perturb.compose import Compose
from xner.robustness.perturb.context import ContextReplacement, EncoderWordVectors, PublishedContextReplacement
from xner.robustness.perturb.dictionaries import (
    BilingualDictionary,
    DictionaryError,
    DictionaryNotFound,
    load_dictionary,
)
from xner.robustness.perturb.entities import UnseenEntityReplacement
from xner.robustness.perturb.names import ForeignNameReplacement
from xner.robustness.perturb.noise import CharacterNoise, Masking, RandomTokens, dataset_vocabulary

if TYPE_CHECKING:
    import datasets


@dataclass
class PerturbationContext:
    """Resources perturbations may need (all optional; each perturbation says which it lacks).

    Attributes:
        lang: the test set's language (code-switching checks its dictionary against it).
        source_lang: the transfer source language (default code-switching direction: into it).
        source_train: the source training split (seen entities, source vocabulary).
        target_train: a target corpus with tags (entity pool, candidate context words, random-token vocab).
        vectors: word vectors for context replacement (see :class:`~xner.robustness.perturb.context.WordVectors`).
        encoder: the evaluated models' encoder (a name for :func:`xner.modeling.encoders.resolve_encoder` or a folder);
            P2 (``context_replacement``) reads its word representations when ``vectors`` is not given.
        dictionary: a :class:`BilingualDictionary`, ``"freedict"`` (find the installed ``lang``→``switch_to``
            FreeDict), ``"freedict:<index path>"``, ``"apertium"`` (the words of ``target_train`` translated by
            the installed Apertium pair), ``"auto"`` (FreeDict if installed, else Apertium) or a TSV path.
        switch_to: language to code-switch into (default ``source_lang``).
        name_languages: languages whose Faker locales supply foreign names (default: every configured
            language with a ``faker_locale`` except ``lang``).
        mask_token: the token masking writes.
    """

    lang: str | None = None
    source_lang: str | None = None
    source_train: datasets.Dataset | None = None
    target_train: datasets.Dataset | None = None
    vectors: Any = None
    encoder: str | None = None
    dictionary: BilingualDictionary | str | Path | None = "auto"
    switch_to: str | None = None
    name_languages: Sequence[str] | None = None
    mask_token: str = "<mask>"

    def require(self, what: str, for_: str) -> Any:
        """Return the attribute ``what`` or raise :class:`PerturbationUnavailable` naming ``for_``."""
        value = getattr(self, what)
        if value is None:
            raise PerturbationUnavailable(f"{for_} needs {what} in the perturbation context, and none was given")
        return value


Factory = Callable[..., Perturbation]
REGISTRY: dict[str, tuple[Factory, str]] = {}


def register(name: str, description: str) -> Callable[[Factory], Factory]:
    """Register a factory ``f(ctx, **params) -> Perturbation`` under ``name``."""

    def deco(fn: Factory) -> Factory:
        if name in REGISTRY:
            raise ValueError(f"perturbation {name!r} is registered twice")
        REGISTRY[name] = (fn, description)
        return fn

    return deco


def available() -> dict[str, str]:
    """Registered perturbation names with one-line descriptions."""
    return {k: d for k, (_, d) in sorted(REGISTRY.items())}


class Unavailable(Perturbation):
    """A perturbation that could not be built; every run is reported as not applied, with the reason."""

    family = "unavailable"

    def __init__(self, name: str, reason: str, params: Mapping[str, Any] | None = None) -> None:
        self.name, self.reason, self._params = name, reason, dict(params or {})

    def params(self) -> dict[str, Any]:
        """The parameters it was asked with."""
        return dict(self._params)

    def perturb_sentence(
        self, tokens: Tokens, tags: Tags, rng: random.Random, report: PerturbationReport
    ) -> tuple[Tokens, Tags]:
        """Never called."""
        raise PerturbationUnavailable(self.reason)

    def apply_lists(
        self, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], seed: int, *, lang: str | None = None
    ) -> ListResult:
        """Return the input unchanged with a not-applied report."""
        report = self.new_report(seed, lang)
        report.n_sentences = len(tokens)
        report.n_tokens = sum(len(t) for t in tokens)
        report.not_applied(self.reason)
        warnings.warn(f"{self.name}: {self.reason}", PerturbationWarning, stacklevel=2)
        return ListResult([list(t) for t in tokens], [list(t) for t in tags], report)


def build(
    spec: str | Mapping[str, Any] | Perturbation,
    ctx: PerturbationContext | None = None,
    *,
    on_unavailable: str = "raise",
    **params: Any,
) -> Perturbation:
    """Build a perturbation from a name (``"mask"``), a composition (``"mask+typos"``) or a dict
    ``{"name": "mask", "rate": 0.2}``; ``params`` override; ``label`` renames the result (to tell apart two
    settings of one perturbation, e.g. ``"mask@0.3"``). Instances pass through unchanged."""
    if on_unavailable not in ("raise", "record"):
        raise ValueError(f"on_unavailable must be 'raise' or 'record', got {on_unavailable!r}")
    if isinstance(spec, Perturbation):
        return spec
    ctx = ctx or PerturbationContext()
    if isinstance(spec, Mapping):
        spec = dict(spec)
        if "name" not in spec:
            raise ValueError(f"perturbation spec {spec} has no 'name'")
        name = str(spec.pop("name"))
        params = {**spec, **params}
    else:
        name = str(spec)
    label = params.pop("label", None)
    if label is not None:
        built = build(name, ctx, on_unavailable=on_unavailable, **params)
        built.name = str(label)
        return built
    if "+" in name:
        parts = [p.strip() for p in name.split("+")]
        if params:
            raise ValueError(f"composition {name!r}: give per-step parameters as a list of dict specs to compose()")
        return compose(parts, ctx, on_unavailable=on_unavailable)
    if name not in REGISTRY:
        raise KeyError(f"unknown perturbation {name!r}; registered: {', '.join(sorted(REGISTRY))}")
    factory, _ = REGISTRY[name]
    try:
        return factory(ctx, **params)
    except (PerturbationUnavailable, DictionaryNotFound, DictionaryError) as exc:
        if on_unavailable == "raise":
            raise PerturbationUnavailable(f"{name}: {exc}") from exc
        return Unavailable(name, str(exc), params)


def compose(
    specs: Sequence[str | Mapping[str, Any] | Perturbation],
    ctx: PerturbationContext | None = None,
    *,
    on_unavailable: str = "raise",
) -> Perturbation:
    """Build a :class:`Compose` of several specs (a step that cannot be built makes it unavailable)."""
    steps = [build(s, ctx, on_unavailable=on_unavailable) for s in specs]
    bad = [s for s in steps if isinstance(s, Unavailable)]
    name = "+".join(s.name for s in steps)
    if bad:
        return Unavailable(name, "; ".join(f"step {s.name}: {s.reason}" for s in bad))
    return Compose(steps, name=name)


# ------------------------------------------------------------------------------------------- factories


@register("unseen_entities", "test entities seen in source train → same-type target entities not seen there")
def _unseen(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    src = ctx.require("source_train", "unseen-entity replacement")
    pool = ctx.require("target_train", "unseen-entity replacement (its entity pool)")
    return UnseenEntityReplacement.from_datasets(src, pool, **kw)


@register(
    "unseen_entities_published",
    "P1 as the reference: case-sensitive, type-agnostic, replacements from the target test's unseen entities",
)
def _unseen_published(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    src = ctx.require("source_train", "unseen-entity replacement")
    kw.setdefault("casefold", False)
    kw.setdefault("pool_from_test", True)
    p = UnseenEntityReplacement.from_datasets(src, src.select([]), **kw)
    p.name = "unseen_entities_published"
    return p


def _names(ctx: PerturbationContext, types: Sequence[str], name: str, **kw: Any) -> Perturbation:
    if "locales" in kw:
        return ForeignNameReplacement(kw.pop("locales"), types=kw.pop("types", types), name=name, **kw)
    langs = kw.pop("languages", None) or ctx.name_languages
    if langs is None:
        langs = [c for c, lg in config.languages().items() if lg.faker_locale and c != ctx.lang]
    return ForeignNameReplacement(languages=list(langs), types=kw.pop("types", types), name=name, **kw)


@register("foreign_names", "PER/LOC/ORG replaced by Faker names of other languages' locales")
def _foreign(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    return _names(ctx, ("PER", "LOC", "ORG"), "foreign_names", **kw)


@register("foreign_per", "person names replaced by Faker names of other locales")
def _foreign_per(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    return _names(ctx, ("PER",), "foreign_per", **kw)


@register("foreign_loc", "locations replaced by Faker cities/countries of other locales")
def _foreign_loc(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    return _names(ctx, ("LOC",), "foreign_loc", **kw)


@register("foreign_org", "organisations replaced by Faker company names of other locales")
def _foreign_org(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    return _names(ctx, ("ORG",), "foreign_org", **kw)


@register(
    "context_replacement",
    "P2 as published: every non-stopword context word seen in source train → nearest unseen target test word",
)
def _context(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    src = ctx.require("source_train", "context replacement")
    vectors = kw.pop("vectors", ctx.vectors)
    if vectors is None:
        if ctx.encoder is None:
            raise PerturbationUnavailable(
                "context replacement (P2) needs the evaluated encoder (encoder=) or word vectors (vectors=)"
            )
        vectors = EncoderWordVectors(resolve_encoder(ctx.encoder))
    kw.setdefault("source_lang", ctx.source_lang)
    return PublishedContextReplacement.from_datasets(src, vectors, **kw)


@register("context_band", "context words shared with source train → unshared target words (this project's variant)")
def _context_band(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    src = ctx.require("source_train", "context replacement")
    tgt = ctx.require("target_train", "context replacement (its candidate words)")
    kw.setdefault("vectors", ctx.vectors)
    return ContextReplacement.from_datasets(src, tgt, **kw)


@register("mask", "context words replaced by a mask token")
def _mask(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    kw.setdefault("mask_token", ctx.mask_token)
    return Masking(mode="mask", **kw)


@register("delete", "context words deleted")
def _delete(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    return Masking(mode="delete", **kw)


def _vocab(ctx: PerturbationContext, kw: dict[str, Any]) -> list[str]:
    if "vocab" in kw:
        return list(kw.pop("vocab"))
    return dataset_vocabulary(ctx.require("target_train", "random tokens (their vocabulary)"))


@register("random_insert", "random target words inserted (tagged O, never inside an entity)")
def _rand_insert(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    return RandomTokens(_vocab(ctx, kw), mode="insert", **kw)


@register("random_replace", "context words replaced by random target words")
def _rand_replace(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    return RandomTokens(_vocab(ctx, kw), mode="replace", **kw)


@register("char_noise", "typos, stripped diacritics and case changes")
def _char(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    return CharacterNoise(**kw)


@register("typos", "one-letter typos (swap, delete, insert, substitute)")
def _typos(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    kw.setdefault("rate", 0.1)
    return CharacterNoise(ops=("typo",), name="typos", **kw)


@register("strip_diacritics", "diacritics stripped from every word")
def _diacritics(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    kw.setdefault("rate", 1.0)
    return CharacterNoise(ops=("diacritics",), name="strip_diacritics", **kw)


@register("case_noise", "words lower-cased (capitalised when already lower-case)")
def _case(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    kw.setdefault("rate", 0.3)
    return CharacterNoise(ops=("case",), name="case_noise", **kw)


@register("code_switch", "context words translated through a bilingual dictionary")
def _codeswitch(ctx: PerturbationContext, **kw: Any) -> Perturbation:
    spec = kw.pop("dictionary", ctx.dictionary)
    if spec is None:
        raise PerturbationUnavailable("code-switching needs a dictionary, and none was given")
    if isinstance(spec, BilingualDictionary):
        return CodeSwitch(spec, **kw)
    src = ctx.require("lang", "code-switching (the language to translate from)")
    tgt = kw.pop("switch_to", None) or ctx.switch_to or ctx.source_lang
    if tgt is None:
        raise PerturbationUnavailable("code-switching needs switch_to or source_lang (the language to switch into)")
    words = None
    if str(spec) in ("apertium", "auto") and ctx.target_train is not None:
        words = dataset_vocabulary(ctx.target_train)  # the test language's words, for an Apertium dictionary
    elif str(spec) == "apertium":
        ctx.require("target_train", "an Apertium code-switching dictionary (the words it translates)")
    return CodeSwitch(load_dictionary(spec, src, tgt, words=words), **kw)
