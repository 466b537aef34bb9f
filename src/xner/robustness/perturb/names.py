"""Foreign-name replacement: person, location and organisation names replaced by names from other languages.

Names come from the Faker package: person names (first + last, or a last name for one-word mentions),
cities or countries for locations, company names for organisations. Languages map to Faker locales through
the ``faker_locale`` field of ``configs/languages.yaml``; locales can also be given directly.

Faker quietly falls back to ``en_US`` (or to generic English placeholders) when a locale lacks a provider:
``Faker("sw").company()`` is an English company name. That would mislabel where a name came from, so every
(locale, kind) is checked before use — the provider must be the locale's own and the data it draws from must
be defined by that locale, not inherited from Faker's generic base provider. A locale that cannot supply a
kind is left out *for that kind only* and the report notes it; a type no locale can supply is counted in
``report.entities_unavailable``. Every replacement records the locale its name came from.

This follows this project's design, not the name perturbation of Manafi & Krishnaswamy (2024): they replace
person or location names by names from Wiktionary lists *of the target language* and score PER-only or
LOC-only F1; here names come from Faker locales of *other* languages, whole spans are replaced, and the suite
scores overall F1 (per-type F1 is in the suite's per-type columns). No Wiktionary name lists are held locally,
so the paper's variant is not offered.
"""

from __future__ import annotations

import functools
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from xner import config
from xner.robustness.perturb.base import (
    Perturbation,
    PerturbationReport,
    PerturbationUnavailable,
    Tags,
    Tokens,
    entity_spans,
    replace_spans,
)
from xner.robustness.perturb.entities import record_replacement

# Which Faker provider and which attributes (data lists or generating methods) make up each kind of name.
# The attributes must be defined by a locale's class, not only by the generic base provider.
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "person": ("faker.providers.person", ("first_names", "last_names")),
    "city": ("faker.providers.address", ("city", "city_formats", "cities")),
    "country": ("faker.providers.address", ("country", "countries")),
    "company": ("faker.providers.company", ("company", "formats", "company_suffixes")),
}
# Default kinds of name per entity type.
TYPE_KINDS: dict[str, tuple[str, ...]] = {"PER": ("person",), "LOC": ("city", "country"), "ORG": ("company",)}

_NAME_TOKEN = re.compile(r"[^\s,;()\"]+|[,;()\"]")


def split_name(text: str) -> list[str]:
    """Tokenise a generated name: whitespace-separated, with commas, semicolons, brackets and quotes split off."""
    return _NAME_TOKEN.findall(text)


def _defined_by_locale(provider: Any, attrs: Sequence[str], base_module: str) -> bool:
    """True if any of ``attrs`` is first defined (in the MRO) by a class outside the generic base module."""
    for attr in attrs:
        for klass in type(provider).__mro__:
            if attr in vars(klass):
                if klass.__module__ != base_module:
                    return True
                break
    return False


@functools.cache
def locale_supports(locale: str, kind: str) -> tuple[bool, str]:
    """Whether Faker's ``locale`` has its own data for ``kind`` (person/city/country/company), and why not.

    Faker's generic base providers hold English data, so for English locales inherited data counts as theirs.
    """
    from faker import Faker
    from faker.config import AVAILABLE_LOCALES

    if kind not in KINDS:
        raise ValueError(f"unknown kind of name {kind!r}; expected one of {', '.join(KINDS)}")
    if locale not in AVAILABLE_LOCALES:
        return False, f"Faker has no locale {locale!r}"
    module, attrs = KINDS[kind]
    fake = Faker(locale)
    for prov in fake.get_providers():
        if getattr(prov, "__provider__", None) == module:
            lang = getattr(prov, "__lang__", None)
            if lang != locale:
                return (
                    False,
                    f"Faker locale {locale} has no {module.rsplit('.', 1)[-1]} provider (falls back to {lang})",
                )
            if not locale.startswith("en") and not _defined_by_locale(prov, attrs, module):
                return False, f"Faker locale {locale} has no {kind} data of its own (only generic placeholders)"
            return True, ""
    return False, f"Faker locale {locale} has no {module} provider"


def _sorted_data(value: Any) -> Any:
    """A sorted copy of a list/tuple/set of strings or of a dict keyed by strings; anything else unchanged."""
    if isinstance(value, list | tuple | set | frozenset) and value and all(isinstance(v, str) for v in value):
        return type(value)(sorted(value)) if isinstance(value, list | tuple) else tuple(sorted(value))
    if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
        return type(value)(sorted(value.items()))
    return value


def stable_faker(locale: str) -> Any:
    """A ``Faker(locale)`` whose name data does not depend on the process (``PYTHONHASHSEED``).

    Some locales build their lists from a ``set`` (Faker's ``it_IT`` cities), so the list order — and with it
    the name a seeded draw picks — changes from one process to the next. Every list, set or dict of strings of
    the person, address and company providers is replaced by a sorted copy on this instance: the same names
    with the same weights, in one order everywhere.
    """
    from faker import Faker

    fake = Faker(locale)
    modules = {module for module, _ in KINDS.values()}
    for prov in fake.get_providers():
        if getattr(prov, "__provider__", None) not in modules:
            continue
        for attr in dir(type(prov)):
            if attr.startswith("_"):
                continue
            value = getattr(type(prov), attr, None)
            fixed = _sorted_data(value)
            if fixed is not value:
                setattr(prov, attr, fixed)
    return fake


def locales_for_languages(codes: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Map language codes to Faker locales via ``configs/languages.yaml``; return (found, missing→reason)."""
    langs = config.languages()
    found: dict[str, str] = {}
    missing: dict[str, str] = {}
    for code in codes:
        if code not in langs:
            missing[code] = (
                f"language {code!r} is not in configs/languages.yaml, so it has no Faker locale: add it there with "
                "faker_locale, or pass locales=[...]"
            )
        elif not langs[code].faker_locale:
            missing[code] = (
                f"language {code!r} has no faker_locale in configs/languages.yaml (Faker has no names for it)"
            )
        else:
            found[code] = langs[code].faker_locale  # type: ignore[assignment]
    return found, missing


class ForeignNameReplacement(Perturbation):
    """Replace PER/LOC/ORG entities by Faker names from other languages' locales.

    Args:
        locales: Faker locales to draw from (e.g. ``["ru_RU", "hi_IN"]``), or
        languages: language codes mapped to locales through ``configs/languages.yaml``.
        types: entity types to replace (``PER``, ``LOC``, ``ORG``; each needs a kind in ``TYPE_KINDS``).
        rate: probability that an entity of a targeted type is replaced.
        exclude_target: leave out the locale of the test set's own language (names must be foreign).
    """

    name = "foreign_names"
    family = "names"

    def __init__(
        self,
        locales: Sequence[str] | None = None,
        *,
        languages: Sequence[str] | None = None,
        types: Sequence[str] = ("PER", "LOC", "ORG"),
        rate: float = 1.0,
        exclude_target: bool = True,
        name: str | None = None,
    ) -> None:
        if (locales is None) == (languages is None):
            raise ValueError("give exactly one of locales= or languages=")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        unknown = [t for t in types if t not in TYPE_KINDS]
        if unknown:
            raise ValueError(f"types {unknown} have no kind of Faker name; supported: {', '.join(TYPE_KINDS)}")
        if name:
            self.name = name
        self.types = tuple(types)
        self.rate = rate
        self.exclude_target = exclude_target
        self.problems: list[str] = []
        if languages is not None:
            found, missing = locales_for_languages(languages)
            self.problems += list(missing.values())
            self.locales = list(dict.fromkeys(found.values()))
            self.languages: list[str] | None = list(languages)
        else:
            self.locales = list(dict.fromkeys(locales or ()))
            self.languages = None
        # kind → locales that supply it; (locale, kind) → reason it does not.
        self.kind_locales: dict[str, list[str]] = defaultdict(list)
        self.unsupported: dict[tuple[str, str], str] = {}
        for kind in sorted({k for t in self.types for k in TYPE_KINDS[t]}):
            for loc in self.locales:
                ok, why = locale_supports(loc, kind)
                if ok:
                    self.kind_locales[kind].append(loc)
                else:
                    self.unsupported[(loc, kind)] = why
        self._fakers: dict[str, Any] = {}

    def params(self) -> dict[str, Any]:
        """Types, rate and the locales used per kind of name."""
        out: dict[str, Any] = {"types": list(self.types), "rate": self.rate, "locales": self.locales}
        if self.languages is not None:
            out["languages"] = self.languages
        out["locales_by_kind"] = {k: v for k, v in sorted(self.kind_locales.items())}
        return out

    def _faker(self, locale: str) -> Any:
        if locale not in self._fakers:
            self._fakers[locale] = stable_faker(locale)
        return self._fakers[locale]

    def _usable(self, lang: str | None) -> tuple[dict[str, list[str]], list[str]]:
        """Per kind, the locales usable for a test set in ``lang`` (its own locale left out), plus notes."""
        notes = list(self.problems) + [why for why in self.unsupported.values()]
        own: str | None = None
        if lang and self.exclude_target:
            langs = config.languages()
            own = langs[lang].faker_locale if lang in langs else None
        usable: dict[str, list[str]] = {}
        for kind, locs in self.kind_locales.items():
            keep = [loc for loc in locs if loc != own]
            if own in locs:
                notes.append(f"locale {own} of the test language {lang!r} left out (names must be foreign)")
            usable[kind] = keep
        return usable, list(dict.fromkeys(notes))

    def prepare(self, tokens: list[Tokens], tags: list[Tags], lang: str | None, report: PerturbationReport) -> None:
        """Check which types can be replaced from which locales; refuse when none can."""
        usable, notes = self._usable(lang)
        self._kinds_now = {t: [k for k in TYPE_KINDS[t] if usable.get(k)] for t in self.types}
        self._locales_now = usable
        report.notes.extend(notes)
        present = {typ for tgs in tags for typ, _, _ in entity_spans(tgs)} & set(self.types)
        if not present:
            raise PerturbationUnavailable(f"the test set has no entities of the types {list(self.types)}")
        if not any(self._kinds_now[t] for t in present):
            detail = "; ".join(notes) or "no locale given"
            raise PerturbationUnavailable(f"no locale can supply names for {sorted(present)}: {detail}")
        for t in sorted(present):
            if not self._kinds_now[t]:
                report.notes.append(f"no locale supplies {t} names; {t} entities are left unchanged and counted")

    def _generate(self, typ: str, n_old: int, rng: random.Random) -> tuple[list[str], str]:
        kind = rng.choice(self._kinds_now[typ])
        locale = rng.choice(self._locales_now[kind])
        fake = self._faker(locale)
        fake.seed_instance(rng.getrandbits(64))
        for _ in range(10):
            if kind == "person":
                text = fake.last_name() if n_old == 1 else f"{fake.first_name()} {fake.last_name()}"
            elif kind == "city":
                text = fake.city()
            elif kind == "country":
                text = fake.country()
            else:
                text = fake.company()
            toks = split_name(text)
            if toks:
                return toks, locale
        raise RuntimeError(f"Faker locale {locale} produced only empty {kind} names")

    def perturb_sentence(
        self, tokens: Tokens, tags: Tags, rng: random.Random, report: PerturbationReport
    ) -> tuple[Tokens, Tags]:
        """Replace each entity of a targeted type (with probability ``rate``) by a generated foreign name."""
        repl: dict[int, tuple[str, int, list[str]]] = {}
        for typ, start, end in entity_spans(tags):
            if typ not in self.types:
                continue
            if rng.random() >= self.rate:
                report.skipped["not drawn (rate)"] += 1
                continue
            if not self._kinds_now.get(typ):
                report.entities_unavailable[typ] += 1
                continue
            new, locale = self._generate(typ, end - start, rng)
            repl[start] = (typ, end, new)
            record_replacement(report, typ, tokens[start:end], new, locale=locale)
        if not repl:
            return list(tokens), list(tags)
        return replace_spans(tokens, tags, repl)
