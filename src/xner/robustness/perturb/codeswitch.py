"""Code-switching: context words translated into another language through a bilingual dictionary.

Each context word (``O``, letters only) that the dictionary translates is replaced, with probability
``rate``, by a translation (the first listed one — the dictionary's main sense — or one drawn at random).
Translations of several words are either skipped (default; the token count stays the same) or split into
several ``O`` tokens (``multiword=True``). Words without a translation, and translations identical to the
word, are counted in ``report.skipped``. The dictionary must translate *from* the test set's language.
The ``langs`` column keeps the sentence's language on every word (downstream code reads it as the language
of the test set); the language switched into is in the report's parameters (``to``).
"""

from __future__ import annotations

import random
from typing import Any

from xner.robustness.perturb.base import (
    Perturbation,
    PerturbationReport,
    PerturbationUnavailable,
    Tags,
    Tokens,
    is_word,
    match_case,
)
from xner.robustness.perturb.dictionaries import BilingualDictionary


class CodeSwitch(Perturbation):
    """Translate context words into ``dictionary.tgt`` with probability ``rate``.

    Args:
        dictionary: a :class:`~xner.robustness.perturb.dictionaries.BilingualDictionary` from the test language.
        rate: probability that a translatable context word is switched.
        choice: ``first`` translation or a ``random`` one.
        multiword: allow translations of several words (split into several ``O`` tokens).
    """

    name = "code_switch"
    family = "codeswitch"

    def __init__(
        self, dictionary: BilingualDictionary, rate: float = 0.3, *, choice: str = "first", multiword: bool = False
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        if choice not in ("first", "random"):
            raise ValueError(f"choice must be 'first' or 'random', got {choice!r}")
        self.dictionary, self.rate, self.choice, self.multiword = dictionary, rate, choice, multiword

    def params(self) -> dict[str, Any]:
        """Rate, choice, the language pair and the dictionary's provenance and size."""
        return {
            "rate": self.rate,
            "choice": self.choice,
            "multiword": self.multiword,
            "from": self.dictionary.src,
            "to": self.dictionary.tgt,
            "dictionary": self.dictionary.provenance,
            "dictionary_size": len(self.dictionary),
        }

    def prepare(self, tokens: list[Tokens], tags: list[Tags], lang: str | None, report: PerturbationReport) -> None:
        """Refuse when the dictionary translates from another language or covers no context word."""
        if lang is not None and self.dictionary.src != lang:
            raise PerturbationUnavailable(
                f"the dictionary translates {self.dictionary.src}→{self.dictionary.tgt}, but the test set is {lang!r}"
            )
        n = sum(
            1
            for toks, tgs in zip(tokens, tags, strict=True)
            for t, g in zip(toks, tgs, strict=True)
            if g == "O" and is_word(t) and self._options(t)
        )
        report.ops["translatable"] = n
        if n == 0:
            raise PerturbationUnavailable(
                f"the {self.dictionary.describe()} translates no context word of the test set"
            )

    def _options(self, word: str) -> list[list[str]]:
        opts = []
        for trans in self.dictionary.translations(word):
            toks = trans.split()
            if toks and (self.multiword or len(toks) == 1) and trans.casefold() != word.casefold():
                opts.append(toks)
        return opts

    def perturb_sentence(
        self, tokens: Tokens, tags: Tags, rng: random.Random, report: PerturbationReport
    ) -> tuple[Tokens, Tags]:
        """Switch drawn translatable context words; entities are never touched."""
        out_tok: Tokens = []
        out_tag: Tags = []
        for tok, tag in zip(tokens, tags, strict=True):
            if tag != "O" or not is_word(tok):
                out_tok.append(tok)
                out_tag.append(tag)
                continue
            opts = self._options(tok)
            if not opts:
                report.skipped[
                    "no translation" if not self.dictionary.translations(tok) else "no usable translation"
                ] += 1
            elif rng.random() < self.rate:
                new = opts[0] if self.choice == "first" else rng.choice(opts)
                new = [match_case(tok, new[0])] + new[1:]
                out_tok.extend(new)
                out_tag.extend(["O"] * len(new))
                report.tokens_touched += 1 + len(new) - 1
                report.tokens_inserted += len(new) - 1
                report.ops["switched"] += 1
                continue
            out_tok.append(tok)
            out_tag.append(tag)
        return out_tok, out_tag
