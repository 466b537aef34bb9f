"""Sub-word alignment and windows: words → model inputs, and model outputs → one prediction per word.

The convention of the field: the first sub-word of each word carries the word's label; the other sub-words
and the special tokens carry ``-100`` (ignored by the loss), and predictions are read back at first sub-words.
This works the same for WordPiece (``##`` continuation pieces, no piece for some characters) and SentencePiece
(``▁`` word prefix, which is sometimes a piece of its own) because it relies only on the fast tokenizer's
``word_ids()``, never on the look of the pieces.

A sentence longer than the model's maximum length is never truncated: it is cut at word boundaries into
overlapping windows (:func:`plan_windows`); each word is *owned* by exactly one window (the one in which it
has the most context), is labelled only there during training, and is read back only from there.

Two rare cases are handled, counted in :class:`EncodeStats` and logged, not hidden:

* a word for which the tokenizer produces no piece at all (e.g. a zero-width space under WordPiece) is
  given the tokenizer's unknown token, so that it still gets a label and a prediction;
* a single word with more pieces than fit in a window keeps its first pieces only (the first piece carries
  its label, so its prediction is unaffected; only its tail is not seen).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger(__name__)

IGNORE_INDEX = -100


class AlignmentError(ValueError):
    """A tokenizer or sentence cannot be aligned to words."""


@dataclass(frozen=True)
class Window:
    """Words ``[start, end)`` of a sentence go into one model input; words ``[own_start, own_end)`` are read
    from (and trained on) this window only."""

    start: int
    end: int
    own_start: int
    own_end: int


def plan_windows(piece_counts: Sequence[int], budget: int, overlap: float = 0.5) -> list[Window]:
    """Cut a sentence (given the number of sub-words per word) into windows of at most ``budget`` sub-words.

    Windows start and end at word boundaries; consecutive windows share up to ``overlap × budget`` sub-words
    of context. Ownership is split in the middle of each overlap, so every word is owned by exactly one
    window and has context on both sides wherever possible. Every count must be between 1 and ``budget``.
    """
    n = len(piece_counts)
    if budget < 1:
        raise AlignmentError(f"window budget must be ≥ 1 sub-word, got {budget}")
    for i, c in enumerate(piece_counts):
        if not 1 <= c <= budget:
            raise AlignmentError(f"word {i} has {c} sub-words; expected 1..{budget} (clip long words first)")
    if n == 0:
        return []
    if sum(piece_counts) <= budget:
        return [Window(0, n, 0, n)]
    spans: list[tuple[int, int]] = []
    start = 0
    keep = int(overlap * budget)
    while True:
        end, total = start, 0
        while end < n and total + piece_counts[end] <= budget:
            total += piece_counts[end]
            end += 1
        spans.append((start, end))
        if end == n:
            break
        nxt, ctx = end, 0
        # keep context, but leave room for the next word so that every window reaches further than the last
        while (
            nxt - 1 > start
            and ctx + piece_counts[nxt - 1] <= keep
            and ctx + piece_counts[nxt - 1] + piece_counts[end] <= budget
        ):
            nxt -= 1
            ctx += piece_counts[nxt]
        start = nxt
    out: list[Window] = []
    own_start = 0
    for k, (s, e) in enumerate(spans):
        if k + 1 < len(spans):
            s2 = spans[k + 1][0]
            own_end = (s2 + e) // 2 if s2 < e else e
        else:
            own_end = n
        out.append(Window(s, e, own_start, own_end))
        own_start = own_end
    return out


def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """First-sub-word labelling of one tokenized sequence: the label of word ``w`` at the first position whose
    word id is ``w``, ``-100`` at later pieces of the same word and at special tokens (word id ``None``)."""
    out: list[int] = []
    prev: int | None = None
    for wid in word_ids:
        if wid is None:
            out.append(IGNORE_INDEX)
        elif wid != prev:
            if not 0 <= wid < len(word_labels):
                raise AlignmentError(f"word id {wid} outside a sentence of {len(word_labels)} labels")
            out.append(int(word_labels[wid]))
        else:
            out.append(IGNORE_INDEX)
        prev = wid
    return out


@dataclass
class Feature:
    """One model input (a whole sentence or one window of it)."""

    input_ids: list[int]
    labels: list[int]  # label id at owned first sub-words, -100 elsewhere (all -100 when unlabelled)
    word_index: list[int]  # sentence word index at owned first sub-words, -1 elsewhere
    sentence: int

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class EncodeStats:
    """What encoding did, counted: windows made, words given an unknown token, words clipped."""

    sentences: int = 0
    empty_sentences: int = 0
    words: int = 0
    pieces: int = 0
    windowed_sentences: int = 0
    windows: int = 0
    empty_words: int = 0
    clipped_words: int = 0
    clipped_pieces: int = 0
    examples: dict[str, list[Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        """The counts as a flat dict (examples left out)."""
        d = asdict(self)
        d.pop("examples")
        return d

    def add(self, other: EncodeStats) -> None:
        """Add another run's counts to this one."""
        for k, v in other.as_dict().items():
            setattr(self, k, getattr(self, k) + v)


def special_layout(tokenizer: Any) -> tuple[list[int], list[int]]:
    """Return the special-token ids a tokenizer puts before and after a single sequence.

    Found by tokenizing one word with and without special tokens, so it works for any fast tokenizer:
    ``[CLS] … [SEP]`` (BERT), ``<s> … </s>`` (XLM-R), ``… </s>`` (T5), or none.
    """
    with_sp = tokenizer(["a"], is_split_into_words=True, add_special_tokens=True)["input_ids"]
    without = tokenizer(["a"], is_split_into_words=True, add_special_tokens=False)["input_ids"]
    n = len(without)
    for i in range(len(with_sp) - n + 1):
        if list(with_sp[i : i + n]) == list(without):
            return list(with_sp[:i]), list(with_sp[i + n :])
    raise AlignmentError(
        f"cannot locate the sequence {without} inside its special-token form {with_sp} for {type(tokenizer).__name__}"
    )


def effective_max_length(tokenizer: Any, model_config: Any | None, requested: int) -> int:
    """The window length to use: ``requested`` capped by the tokenizer's and the model's position limits."""
    limits = [requested]
    tml = getattr(tokenizer, "model_max_length", None)
    if isinstance(tml, int) and 0 < tml < 100_000:
        limits.append(tml)
    if model_config is not None:
        mpe = getattr(model_config, "max_position_embeddings", None)
        if isinstance(mpe, int) and mpe > 0:
            # RoBERTa-style models (XLM-R) start positions after the padding index: 514 positions, 512 usable.
            if getattr(model_config, "model_type", "") in ("roberta", "xlm-roberta", "camembert", "xlm-roberta-xl"):
                mpe -= (getattr(model_config, "pad_token_id", 1) or 1) + 1
            limits.append(mpe)
    return min(limits)


class SubwordEncoder:
    """Turns word-tokenized sentences into model :class:`Feature` s and reads predictions back per word."""

    def __init__(self, tokenizer: Any, max_length: int, window_overlap: float = 0.5) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise AlignmentError(
                f"{type(tokenizer).__name__} is not a fast tokenizer: word alignment needs word_ids(); "
                "load it with AutoTokenizer.from_pretrained(..., use_fast=True) or convert it to tokenizer.json"
            )
        self.tokenizer = tokenizer
        self.prefix, self.suffix = special_layout(tokenizer)
        self.max_length = max_length
        self.budget = max_length - len(self.prefix) - len(self.suffix)
        if self.budget < 2:
            raise AlignmentError(f"max_length {max_length} leaves no room for words after special tokens")
        self.window_overlap = window_overlap
        self.unk_ids = self._placeholder()

    def _placeholder(self) -> list[int]:
        unk = getattr(self.tokenizer, "unk_token_id", None)
        if unk is not None:
            return [int(unk)]
        ids = self.tokenizer(["_"], is_split_into_words=True, add_special_tokens=False)["input_ids"]
        if not ids:
            raise AlignmentError(f"{type(self.tokenizer).__name__} has no unknown token and cannot encode '_'")
        return [int(ids[0])]

    def word_pieces(self, sentences: Sequence[Sequence[str]], stats: EncodeStats) -> list[list[list[int]]]:
        """Sub-word ids of every word of every sentence (words without pieces get the unknown token)."""
        out: list[list[list[int]]] = [[] for _ in sentences]
        idx = [i for i, s in enumerate(sentences) if len(s) > 0]
        chunk = 2048
        for c in range(0, len(idx), chunk):
            part = idx[c : c + chunk]
            enc = self.tokenizer(
                [list(sentences[i]) for i in part],
                is_split_into_words=True,
                add_special_tokens=False,
                return_attention_mask=False,
                return_token_type_ids=False,
                verbose=False,  # long sentences are windowed below, so the "longer than maximum" warning is moot
            )
            for j, si in enumerate(part):
                words: list[list[int]] = [[] for _ in sentences[si]]
                for tid, wid in zip(enc["input_ids"][j], enc.word_ids(j), strict=True):
                    if wid is not None:
                        words[wid].append(int(tid))
                for wi, pieces in enumerate(words):
                    if not pieces:
                        words[wi] = list(self.unk_ids)
                        stats.empty_words += 1
                        examples = stats.examples.setdefault("empty_words", [])
                        if len(examples) < 5:
                            examples.append(sentences[si][wi])
                    elif len(pieces) > self.budget:
                        stats.clipped_words += 1
                        stats.clipped_pieces += len(pieces) - self.budget
                        words[wi] = pieces[: self.budget]
                out[si] = words
        return out

    def encode(
        self, sentences: Sequence[Sequence[str]], labels: Sequence[Sequence[int]] | None = None
    ) -> tuple[list[Feature], EncodeStats]:
        """Encode sentences (and optionally their label ids) into features; see the module docstring."""
        if labels is not None and len(labels) != len(sentences):
            raise AlignmentError(f"{len(sentences)} sentences but {len(labels)} label sequences")
        stats = EncodeStats(sentences=len(sentences))
        pieces = self.word_pieces(sentences, stats)
        feats: list[Feature] = []
        for si, words in enumerate(pieces):
            n = len(sentences[si])
            stats.words += n
            if n == 0:
                stats.empty_sentences += 1
                continue
            labs = labels[si] if labels is not None else None
            if labs is not None and len(labs) != n:
                raise AlignmentError(f"sentence {si}: {n} words but {len(labs)} labels")
            counts = [len(p) for p in words]
            stats.pieces += sum(counts)
            windows = plan_windows(counts, self.budget, self.window_overlap)
            if len(windows) > 1:
                stats.windowed_sentences += 1
            stats.windows += len(windows)
            for w in windows:
                ids = list(self.prefix)
                lab = [IGNORE_INDEX] * len(self.prefix)
                widx = [-1] * len(self.prefix)
                for wi in range(w.start, w.end):
                    owned = w.own_start <= wi < w.own_end
                    first = len(ids)
                    ids.extend(words[wi])
                    lab.extend([IGNORE_INDEX] * len(words[wi]))
                    widx.extend([-1] * len(words[wi]))
                    if owned:
                        widx[first] = wi
                        if labs is not None:
                            lab[first] = int(labs[wi])
                ids.extend(self.suffix)
                lab.extend([IGNORE_INDEX] * len(self.suffix))
                widx.extend([-1] * len(self.suffix))
                feats.append(Feature(ids, lab, widx, si))
        if stats.windowed_sentences:
            log.info(
                "%d of %d sentences were longer than %d sub-words and were split into windows",
                stats.windowed_sentences,
                stats.sentences,
                self.max_length,
            )
        if stats.empty_words:
            log.warning(
                "%d words had no sub-word and were encoded as the unknown token (e.g. %r)",
                stats.empty_words,
                stats.examples.get("empty_words"),
            )
        if stats.clipped_words:
            log.warning(
                "%d words had more than %d sub-words; their tails (%d sub-words) were left out",
                stats.clipped_words,
                self.budget,
                stats.clipped_pieces,
            )
        return feats, stats


__all__ = [
    "AlignmentError",
    "EncodeStats",
    "Feature",
    "IGNORE_INDEX",
    "SubwordEncoder",
    "Window",
    "align_labels",
    "effective_max_length",
    "plan_windows",
    "special_layout",
]
