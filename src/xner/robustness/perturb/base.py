"""The common machinery of every perturbation: seeding, the report, validation, dataset conversion.

A perturbation is label-preserving: it changes the words of a test set but every entity keeps its type, the
``tokens`` and ``ner_tags`` of each sentence stay aligned, replaced entities are re-tagged as valid IOB2 for
their new length, and whatever the perturbation does not target is left unchanged. :class:`Perturbation`
enforces the first three after every sentence (a violation is a bug and raises), so each family only says
how one sentence changes.

Randomness: sentence ``i`` of a run with seed ``s`` draws from its own ``random.Random`` seeded with the
string ``"<name>|<s>|<i>"`` (string seeds are hashed with SHA-512, stable across processes and Python
versions), so a result depends only on (perturbation, parameters, seed, sentence) — not on which other
sentences are in the set or on the order perturbations run in.

A perturbation that cannot be applied (no entities of a type to draw from, no dictionary for a language
pair, no names for a locale) says so: its report has ``applied=False`` and a ``reason``, a
:class:`PerturbationWarning` is issued, and :mod:`xner.robustness.suite` records the row as not applicable instead of
scoring the clean set as if it were perturbed. Partial shortfalls (one type of three has no replacements)
are counted per type in the report.
"""

from __future__ import annotations

import json
import random
import unicodedata
import warnings
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from xner.data import from_lists, label_set_of, tag_names
from xner.labels import LabelError, LabelSet, spans_from_tags, validate_iob2

if TYPE_CHECKING:
    import datasets

Tokens = list[str]
Tags = list[str]


class PerturbationWarning(UserWarning):
    """A perturbation could not be applied (fully or in part); the report says what and why."""


class PerturbationUnavailable(RuntimeError):
    """Raised while preparing a perturbation whose resources are missing (no pool, no dictionary, ...)."""


@dataclass
class PerturbationReport:
    """What one perturbation run changed, and what it could not change.

    ``tokens_touched`` counts input tokens replaced, altered or removed plus tokens inserted;
    ``sentences_touched`` counts sentences whose tokens differ from the input. Counters are keyed by entity
    type (``entities_replaced``, ``entities_unavailable``), locale (``locales``), operation (``ops``) or
    reason (``skipped``: candidates deliberately left alone, e.g. a context word without a translation).
    ``records`` lists each entity replacement (sentence, type, old and new surface, locale where one applies).
    """

    perturbation: str
    seed: int
    params: dict[str, Any] = field(default_factory=dict)
    lang: str | None = None
    n_sentences: int = 0
    n_tokens: int = 0
    sentences_touched: int = 0
    tokens_touched: int = 0
    tokens_inserted: int = 0
    tokens_deleted: int = 0
    entities_replaced: Counter = field(default_factory=Counter)
    entities_unavailable: Counter = field(default_factory=Counter)
    locales: Counter = field(default_factory=Counter)
    ops: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    applied: bool = True
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    steps: list[PerturbationReport] = field(default_factory=list)
    current_sentence: int = -1

    def not_applied(self, reason: str) -> PerturbationReport:
        """Mark the run as not applicable with ``reason`` (kept as the first note) and return ``self``."""
        self.applied = False
        self.reason = reason
        return self

    def as_row(self) -> dict[str, Any]:
        """Flatten into one table row (counters as sorted JSON objects), for :mod:`xner.robustness.suite`."""

        def js(obj: Any) -> str:
            return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)

        return {
            "perturbation_seed": self.seed,
            "applied": self.applied,
            "reason": self.reason,
            "sentences_touched": self.sentences_touched,
            "tokens_touched": self.tokens_touched,
            "tokens_inserted": self.tokens_inserted,
            "tokens_deleted": self.tokens_deleted,
            "frac_sentences_touched": self.sentences_touched / self.n_sentences if self.n_sentences else 0.0,
            "frac_tokens_touched": self.tokens_touched / self.n_tokens if self.n_tokens else 0.0,
            "entities_replaced": sum(self.entities_replaced.values()),
            "entities_replaced_by_type": js(dict(self.entities_replaced)),
            "entities_unavailable_by_type": js(dict(self.entities_unavailable)),
            "locales": js(dict(self.locales)),
            "ops": js(dict(self.ops)),
            "skipped": js(dict(self.skipped)),
            "perturbation_params": js(self.params),
            "notes": " | ".join(self.notes),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view of the whole report, steps of a composition included."""
        skip = {"steps", "current_sentence"}
        out = {k: (dict(v) if isinstance(v, Counter) else v) for k, v in self.__dict__.items() if k not in skip}
        out["steps"] = [s.to_dict() for s in self.steps]
        return out

    def summary(self) -> str:
        """One human-readable line: what changed, or why nothing did."""
        if not self.applied:
            return f"{self.perturbation} (seed {self.seed}): NOT APPLIED — {self.reason}"
        parts = [
            f"{self.sentences_touched}/{self.n_sentences} sentences, {self.tokens_touched}/{self.n_tokens} "
            "tokens touched"
        ]
        if self.entities_replaced:
            parts.append(
                "entities replaced " + ", ".join(f"{k} {v}" for k, v in sorted(self.entities_replaced.items()))
            )
        if self.entities_unavailable:
            parts.append(
                "NOT replaced (no replacement available) "
                + ", ".join(f"{k} {v}" for k, v in sorted(self.entities_unavailable.items()))
            )
        if self.locales:
            parts.append("locales " + ", ".join(f"{k} {v}" for k, v in sorted(self.locales.items())))
        if self.skipped:
            parts.append("skipped " + ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items())))
        return f"{self.perturbation} (seed {self.seed}): " + "; ".join(parts)


class PerturbationResult(NamedTuple):
    """A perturbed dataset and the report of what changed (unpack as ``ds, report = p.apply(...)``)."""

    dataset: datasets.Dataset
    report: PerturbationReport


@dataclass
class ListResult:
    """The list form of a result: token and tag lists per sentence, plus the report."""

    tokens: list[Tokens]
    tags: list[Tags]
    report: PerturbationReport


def sentence_rng(name: str, seed: int, index: int) -> random.Random:
    """The random generator of sentence ``index`` for perturbation ``name`` run with ``seed``."""
    return random.Random(f"{name}|{seed}|{index}")


def iob2_span_tags(typ: str, length: int) -> Tags:
    """Valid IOB2 tags for one entity of ``typ`` spanning ``length`` tokens."""
    if length < 1:
        raise ValueError(f"an entity needs at least one token, got length {length}")
    return [f"B-{typ}"] + [f"I-{typ}"] * (length - 1)


def entity_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Strict IOB2 entity spans ``(type, start, end_exclusive)`` of one sentence (input must be valid)."""
    return spans_from_tags(tags, "IOB2")


def replace_spans(
    tokens: Sequence[str], tags: Sequence[str], replacements: dict[int, tuple[str, int, list[str]]]
) -> tuple[Tokens, Tags]:
    """Rebuild a sentence with entity spans replaced.

    ``replacements`` maps a span start to ``(type, end_exclusive, new_tokens)``; each new span is tagged
    ``B-type I-type ...`` for its new length and everything outside the spans is copied unchanged.
    """
    out_tok: Tokens = []
    out_tag: Tags = []
    i = 0
    while i < len(tokens):
        if i in replacements:
            typ, end, new = replacements[i]
            out_tok.extend(new)
            out_tag.extend(iob2_span_tags(typ, len(new)))
            i = end
        else:
            out_tok.append(tokens[i])
            out_tag.append(tags[i])
            i += 1
    return out_tok, out_tag


def match_case(template: str, word: str) -> str:
    """Give ``word`` the capitalisation pattern of ``template`` (UPPER, Title or as is)."""
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template[:1].isupper() and not word[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def is_word(token: str) -> bool:
    """True for a token of letters and combining marks only (a context *word*, not punctuation or a number).

    Combining marks count so that words of abugidas (Devanagari vowel signs are ``Mc``/``Mn``) qualify.
    """
    if token.isalpha():
        return True
    return any(c.isalpha() for c in token) and all(c.isalpha() or unicodedata.category(c)[0] == "M" for c in token)


def check_sentence(tokens: Sequence[str], tags: Sequence[str], where: str) -> None:
    """Raise :class:`LabelError` unless tokens and tags align, tags are valid IOB2 and tokens are non-empty words."""
    if len(tokens) != len(tags):
        raise LabelError(f"{where}: {len(tokens)} tokens but {len(tags)} tags")
    problems = validate_iob2(tags)
    if problems:
        raise LabelError(f"{where}: invalid IOB2 after perturbation: {problems[0].message}")
    for t in tokens:
        if not t or any(c.isspace() for c in t):
            raise LabelError(f"{where}: token {t!r} is empty or contains whitespace")


def dataset_lists(ds: datasets.Dataset) -> tuple[list[Tokens], list[Tags], LabelSet, list[list[str]]]:
    """Return tokens, IOB2 tag names, the label set and the ``langs`` lists of a dataset."""
    tokens = [list(t) for t in ds["tokens"]]
    langs = [list(x) for x in ds["langs"]] if "langs" in ds.column_names else [[""] * len(t) for t in tokens]
    return tokens, tag_names(ds), label_set_of(ds), langs


def dataset_lang(ds: datasets.Dataset) -> str | None:
    """The language of a dataset from its ``langs`` column (the most frequent code), or ``None``."""
    if "langs" not in ds.column_names:
        return None
    counts = Counter(code for sent in ds["langs"] for code in sent if code)
    return counts.most_common(1)[0][0] if counts else None


def to_dataset(
    tokens: list[Tokens], tags: list[Tags], label_set: LabelSet, orig_langs: list[list[str]]
) -> datasets.Dataset:
    """Build a dataset like the input: same label set, each sentence's language code on every word."""
    langs = []
    for toks, old in zip(tokens, orig_langs, strict=True):
        code = Counter(old).most_common(1)[0][0] if old else ""
        langs.append(list(old) if len(old) == len(toks) else [code] * len(toks))
    return from_lists(tokens, tags, langs=langs, label_set=label_set)


class Perturbation(ABC):
    """Base class: subclasses implement :meth:`perturb_sentence` (and optionally :meth:`prepare`).

    Attributes every subclass sets: ``name`` (registry name) and ``family`` (module). :meth:`params`
    returns the JSON-able parameters that go into the report and the results table.
    """

    name: str = "perturbation"
    family: str = "base"

    def params(self) -> dict[str, Any]:
        """Parameters recorded in the report (override to add the subclass's own)."""
        return {}

    def prepare(self, tokens: list[Tokens], tags: list[Tags], lang: str | None, report: PerturbationReport) -> None:  # noqa: B027 (an optional hook: most perturbations need no look at the whole set)
        """Look at the whole set before perturbing; raise :class:`PerturbationUnavailable` if it cannot apply."""

    @abstractmethod
    def perturb_sentence(
        self, tokens: Tokens, tags: Tags, rng: random.Random, report: PerturbationReport
    ) -> tuple[Tokens, Tags]:
        """Return the perturbed sentence (new lists; never mutate the inputs) and count changes in ``report``."""

    # ------------------------------------------------------------------------------------------ running

    def new_report(self, seed: int, lang: str | None) -> PerturbationReport:
        """An empty report for a run of this perturbation."""
        return PerturbationReport(perturbation=self.name, seed=int(seed), params=self.params(), lang=lang)

    def apply_lists(
        self, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], seed: int, *, lang: str | None = None
    ) -> ListResult:
        """Perturb token/tag lists with ``seed``; see the module docstring for the guarantees."""
        if len(tokens) != len(tags):
            raise LabelError(f"{len(tokens)} token sentences but {len(tags)} tag sentences")
        toks = [list(t) for t in tokens]
        tgs = [list(t) for t in tags]
        for i, (a, b) in enumerate(zip(toks, tgs, strict=True)):
            check_sentence(a, b, f"input sentence {i}")
        report = self.new_report(seed, lang)
        report.n_sentences = len(toks)
        report.n_tokens = sum(len(t) for t in toks)
        try:
            self.prepare(toks, tgs, lang, report)
        except PerturbationUnavailable as exc:
            report.not_applied(str(exc))
            warnings.warn(f"{self.name}: {exc}", PerturbationWarning, stacklevel=2)
            return ListResult(toks, tgs, report)
        out_tok: list[Tokens] = []
        out_tag: list[Tags] = []
        for i, (a, b) in enumerate(zip(toks, tgs, strict=True)):
            rng = sentence_rng(self.name, seed, i)
            report.current_sentence = i
            na, nb = self.perturb_sentence(a, b, rng, report)
            check_sentence(na, nb, f"{self.name}: output sentence {i}")
            if len(na) == 0 and len(a) > 0:
                raise LabelError(f"{self.name}: output sentence {i} is empty")
            if entity_types(nb) != entity_types(b):
                raise LabelError(
                    f"{self.name}: output sentence {i} changed the entity types {entity_types(b)} → {entity_types(nb)}"
                )
            if na != a:
                report.sentences_touched += 1
            out_tok.append(na)
            out_tag.append(nb)
        self.finish(report)
        return ListResult(out_tok, out_tag, report)

    def finish(self, report: PerturbationReport) -> None:
        """Mark a run that changed nothing as not applied, with the reasons counted on the way."""
        if report.applied and report.tokens_touched == 0:
            why = ", ".join(f"{k}: {v}" for k, v in sorted(report.skipped.items())) or "no candidate tokens"
            if report.entities_unavailable:
                why += "; entities without replacement: " + ", ".join(
                    f"{k} {v}" for k, v in sorted(report.entities_unavailable.items())
                )
            report.not_applied(f"nothing was changed ({why})")
            warnings.warn(f"{self.name}: {report.reason}", PerturbationWarning, stacklevel=3)

    def apply(self, ds: datasets.Dataset, seed: int = 0) -> PerturbationResult:
        """Perturb a dataset (``tokens``/``ner_tags``/``langs``) with ``seed``; return it with the report.

        When the perturbation cannot be applied, the returned dataset is the input and ``report.applied`` is
        False with the reason; callers must check it (the suite does).
        """
        tokens, tags, label_set, langs = dataset_lists(ds)
        res = self.apply_lists(tokens, tags, seed, lang=dataset_lang(ds))
        if not res.report.applied:
            return PerturbationResult(ds, res.report)
        return PerturbationResult(to_dataset(res.tokens, res.tags, label_set, langs), res.report)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def entity_types(tags: Sequence[str]) -> list[str]:
    """The sequence of entity types in a sentence (what every perturbation must preserve)."""
    return [t for t, _, _ in entity_spans(tags)]


def context_positions(tags: Sequence[str]) -> list[int]:
    """Positions tagged ``O`` (context words)."""
    return [i for i, t in enumerate(tags) if t == "O"]
