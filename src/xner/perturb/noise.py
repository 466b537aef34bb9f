"""Noise: masking or deleting context words, random-token insertion and replacement, character noise.

All of them keep labels: masking, deletion and replacement touch only context (``O``) words; insertion puts
``O`` tokens only where they cannot split an entity (never before an ``I-`` tag); character noise changes
letters inside tokens (entities included by default — a typo in a name is still that name) and never the
number of tokens.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from xner.perturb.base import (
    Perturbation,
    PerturbationReport,
    PerturbationUnavailable,
    Tags,
    Tokens,
    is_word,
)

if TYPE_CHECKING:
    import datasets


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}")


def _check_token(token: str, what: str) -> None:
    if not token or any(c.isspace() for c in token):
        raise ValueError(f"{what} {token!r} must be a non-empty token without whitespace")


def word_vocabulary(tokens: Iterable[Sequence[str]], tags: Iterable[Sequence[str]] | None = None) -> list[str]:
    """Sorted distinct words (letters only) of a corpus, only its ``O`` words when ``tags`` are given."""
    out: set[str] = set()
    if tags is None:
        out = {t for sent in tokens for t in sent if is_word(t)}
    else:
        out = {t for sent, tg in zip(tokens, tags, strict=True) for t, g in zip(sent, tg, strict=True) if g == "O" and is_word(t)}
    return sorted(out)


def dataset_vocabulary(ds: datasets.Dataset) -> list[str]:
    """Sorted distinct context words (``O``, letters only) of a dataset: the default random-token vocabulary."""
    from xner.data import tag_names

    return word_vocabulary(ds["tokens"], tag_names(ds))


class Masking(Perturbation):
    """Mask (``mode="mask"``) or delete (``mode="delete"``) context words with probability ``rate``.

    Only ``O`` tokens that are words (letters) are candidates unless ``words_only=False``. Deletion never
    empties a sentence: a deletion that would is skipped and counted.
    """

    family = "noise"

    def __init__(
        self, rate: float = 0.15, *, mode: str = "mask", mask_token: str = "<mask>", words_only: bool = True
    ) -> None:
        _check_rate(rate)
        if mode not in ("mask", "delete"):
            raise ValueError(f"mode must be 'mask' or 'delete', got {mode!r}")
        _check_token(mask_token, "mask token")
        self.rate, self.mode, self.mask_token, self.words_only = rate, mode, mask_token, words_only
        self.name = "mask" if mode == "mask" else "delete"

    def params(self) -> dict[str, Any]:
        """Rate, mode, mask token and candidate filter."""
        out: dict[str, Any] = {"rate": self.rate, "mode": self.mode, "words_only": self.words_only}
        if self.mode == "mask":
            out["mask_token"] = self.mask_token
        return out

    def _candidate(self, tok: str, tag: str) -> bool:
        return tag == "O" and (is_word(tok) or not self.words_only) and tok != self.mask_token

    def perturb_sentence(
        self, tokens: Tokens, tags: Tags, rng: random.Random, report: PerturbationReport
    ) -> tuple[Tokens, Tags]:
        """Mask or delete drawn context words."""
        out_tok: Tokens = []
        out_tag: Tags = []
        drawn = [self._candidate(t, g) and rng.random() < self.rate for t, g in zip(tokens, tags, strict=True)]
        if self.mode == "delete" and drawn and all(drawn):
            drawn[-1] = False
            report.skipped["would empty the sentence"] += 1
        for tok, tag, hit in zip(tokens, tags, drawn, strict=True):
            if not hit:
                out_tok.append(tok)
                out_tag.append(tag)
                continue
            report.tokens_touched += 1
            if self.mode == "mask":
                out_tok.append(self.mask_token)
                out_tag.append(tag)
                report.ops["masked"] += 1
            else:
                report.tokens_deleted += 1
                report.ops["deleted"] += 1
        return out_tok, out_tag


class RandomTokens(Perturbation):
    """Insert (``mode="insert"``) or substitute (``mode="replace"``) random words drawn from ``vocab``.

    Insertion draws, for each gap between tokens (and both ends) where an ``O`` token cannot split an entity,
    whether to insert one word tagged ``O``. Replacement draws, for each context word, whether to replace it.
    """

    family = "noise"

    def __init__(
        self, vocab: Sequence[str], rate: float = 0.1, *, mode: str = "insert", words_only: bool = True
    ) -> None:
        _check_rate(rate)
        if mode not in ("insert", "replace"):
            raise ValueError(f"mode must be 'insert' or 'replace', got {mode!r}")
        self.vocab = list(vocab)
        for w in self.vocab:
            _check_token(w, "vocabulary word")
        self.rate, self.mode, self.words_only = rate, mode, words_only
        self.name = "random_insert" if mode == "insert" else "random_replace"

    def params(self) -> dict[str, Any]:
        """Rate, mode and vocabulary size."""
        return {"rate": self.rate, "mode": self.mode, "vocab_size": len(self.vocab), "words_only": self.words_only}

    def prepare(self, tokens: list[Tokens], tags: list[Tags], lang: str | None, report: PerturbationReport) -> None:
        """Refuse with an empty vocabulary."""
        if not self.vocab:
            raise PerturbationUnavailable("the random-token vocabulary is empty")

    def perturb_sentence(
        self, tokens: Tokens, tags: Tags, rng: random.Random, report: PerturbationReport
    ) -> tuple[Tokens, Tags]:
        """Insert or substitute drawn random words."""
        out_tok: Tokens = []
        out_tag: Tags = []
        if self.mode == "insert":
            for i in range(len(tokens) + 1):
                # A gap before token i can take an O token unless token i continues an entity.
                if (i == len(tokens) or not tags[i].startswith("I-")) and rng.random() < self.rate:
                    out_tok.append(rng.choice(self.vocab))
                    out_tag.append("O")
                    report.tokens_touched += 1
                    report.tokens_inserted += 1
                    report.ops["inserted"] += 1
                if i < len(tokens):
                    out_tok.append(tokens[i])
                    out_tag.append(tags[i])
            return out_tok, out_tag
        out_tok = list(tokens)
        for i, (tok, tag) in enumerate(zip(tokens, tags, strict=True)):
            if tag == "O" and (is_word(tok) or not self.words_only) and rng.random() < self.rate:
                new = rng.choice(self.vocab)
                if new == tok:
                    report.skipped["drew the same word"] += 1
                    continue
                out_tok[i] = new
                report.tokens_touched += 1
                report.ops["replaced"] += 1
        return out_tok, list(tags)


# ------------------------------------------------------------------------------------------ characters

CHAR_OPS = ("typo", "diacritics", "case")
TYPO_KINDS = ("swap", "delete", "insert", "substitute")


def strip_diacritics(token: str) -> str:
    """Remove combining marks that decompose off letters (NFD, drop ``Mn``, NFC): ``é`` → ``e``.

    Only non-spacing marks (``Mn``) go; in abugidas this removes some vowel signs too, which is the intended
    kind of noise there (informal writing drops them).
    """
    decomposed = unicodedata.normalize("NFD", token)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", stripped) or token


def change_case(token: str) -> str:
    """Lower-case a token that has capitals, else capitalise it (unchanged for scripts without case)."""
    lowered = token.lower()
    if lowered != token:
        return lowered
    return token[:1].upper() + token[1:]


def typo(token: str, rng: random.Random, alphabet: Sequence[str]) -> str:
    """One random edit of a letter: swap two adjacent letters, delete, insert or substitute one.

    Inserted and substituted letters come from ``alphabet`` (the letters of the test set, so of its script).
    Returns the token unchanged when no edit applies (no letters, or a one-letter token with no alphabet).
    """
    letters = [i for i, c in enumerate(token) if c.isalpha()]
    if not letters:
        return token
    kinds = [k for k in TYPO_KINDS if _typo_possible(k, token, letters, alphabet)]
    if not kinds:
        return token
    kind = rng.choice(kinds)
    if kind == "swap":
        pairs = [i for i in letters if i + 1 < len(token) and token[i + 1].isalpha() and token[i] != token[i + 1]]
        i = rng.choice(pairs)
        return token[:i] + token[i + 1] + token[i] + token[i + 2 :]
    if kind == "delete":
        i = rng.choice(letters)
        return token[:i] + token[i + 1 :]
    if kind == "insert":
        i = rng.choice(letters)
        return token[:i] + rng.choice(alphabet) + token[i:]
    i = rng.choice(letters)
    choices = [c for c in alphabet if c != token[i]]
    return token[:i] + rng.choice(choices) + token[i + 1 :]


def _typo_possible(kind: str, token: str, letters: list[int], alphabet: Sequence[str]) -> bool:
    if kind == "swap":
        return any(i + 1 < len(token) and token[i + 1].isalpha() and token[i] != token[i + 1] for i in letters)
    if kind == "delete":
        return len(token) > 1
    if kind == "insert":
        return bool(alphabet)
    return len(set(alphabet)) > 1  # then every letter has a different letter to become


class CharacterNoise(Perturbation):
    """Character noise: typos, stripped diacritics, case changes, each token hit with probability ``rate``.

    Args:
        rate: probability that a token is perturbed.
        ops: operations to draw from (``typo``, ``diacritics``, ``case``); for each hit token one is drawn
            among those that would change it (a token none would change is counted as skipped).
        target: ``all`` tokens, only ``context`` (O) or only ``entities``.
        name: registry name to report under (presets like ``typos`` use one op).
        alphabet: letters typos insert and substitute; default: the letters of the sentence being perturbed
            (so of its script, and each sentence's result independent of the rest of the set).
    """

    family = "noise"

    def __init__(
        self,
        rate: float = 0.1,
        *,
        ops: Sequence[str] = CHAR_OPS,
        target: str = "all",
        name: str = "char_noise",
        alphabet: str | Sequence[str] | None = None,
    ) -> None:
        _check_rate(rate)
        bad = [o for o in ops if o not in CHAR_OPS]
        if bad or not ops:
            raise ValueError(f"ops must be a non-empty subset of {CHAR_OPS}, got {list(ops)}")
        if target not in ("all", "context", "entities"):
            raise ValueError(f"target must be 'all', 'context' or 'entities', got {target!r}")
        self.rate, self.ops, self.target, self.name = rate, tuple(ops), target, name
        self.alphabet: list[str] | None = sorted(set(alphabet)) if alphabet is not None else None
        if self.alphabet is not None and not all(c.isalpha() and len(c) == 1 for c in self.alphabet):
            raise ValueError("alphabet must be single letters")

    def params(self) -> dict[str, Any]:
        """Rate, operations, target and the alphabet (``sentence`` when drawn from each sentence)."""
        return {
            "rate": self.rate,
            "ops": list(self.ops),
            "target": self.target,
            "alphabet": "".join(self.alphabet) if self.alphabet is not None else "sentence",
        }

    def _targeted(self, tag: str) -> bool:
        return self.target == "all" or (self.target == "context") == (tag == "O")

    def perturb_sentence(
        self, tokens: Tokens, tags: Tags, rng: random.Random, report: PerturbationReport
    ) -> tuple[Tokens, Tags]:
        """Apply one drawn character operation to each hit token."""
        out = list(tokens)
        alphabet = self.alphabet if self.alphabet is not None else sorted({c for t in tokens for c in t if c.isalpha()})
        for i, (tok, tag) in enumerate(zip(tokens, tags, strict=True)):
            if not self._targeted(tag) or not any(c.isalpha() for c in tok):
                continue
            if rng.random() >= self.rate:
                continue
            results = {}
            for op in self.ops:
                if op == "diacritics":
                    new = strip_diacritics(tok)
                elif op == "case":
                    new = change_case(tok)
                else:
                    new = None  # a typo is drawn below, only if chosen
                if new is None or new != tok:
                    results[op] = new
            if not results:
                report.skipped["no operation changes the token"] += 1
                continue
            op = rng.choice(sorted(results))
            new = results[op] if op != "typo" else typo(tok, rng, alphabet)
            if new == tok or not new:
                report.skipped["no operation changes the token"] += 1
                continue
            out[i] = new
            report.tokens_touched += 1
            report.ops[op] += 1
        return out, list(tags)
