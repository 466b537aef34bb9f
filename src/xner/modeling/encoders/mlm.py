"""Masked language modelling, shared by mini-encoder pretraining (:mod:`xner.modeling.encoders.mini`) and MAD-X language
adapters (:mod:`xner.methods.adapters`): sequences with word numbers, seeded whole-word masking, the loss at masked
positions
only, and the training loop."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from xner.modeling.loop import length_grouped_batches
from xner.modeling.tokenize import EncodeStats, SubwordEncoder, plan_windows


@dataclass
class MLMSequence:
    """One training sequence: sub-word ids and the word number of each position."""

    ids: np.ndarray  # sub-word ids, special tokens included
    word: np.ndarray  # word number per position, -1 at special tokens


def mlm_sequences(tokenizer: Any, sentences: Sequence[Sequence[str]], max_length: int) -> list[MLMSequence]:
    """Sub-word sequences with word numbers; long sentences are split into non-overlapping windows."""
    enc = SubwordEncoder(tokenizer, max_length, window_overlap=0.0)
    pieces = enc.word_pieces(sentences, EncodeStats())
    out: list[MLMSequence] = []
    for words in pieces:
        if not words:
            continue
        for w in plan_windows([len(p) for p in words], enc.budget, 0.0):
            ids = list(enc.prefix)
            wn = [-1] * len(enc.prefix)
            for k in range(w.start, w.end):
                ids += words[k]
                wn += [k - w.start] * len(words[k])
            ids += enc.suffix
            wn += [-1] * len(enc.suffix)
            out.append(MLMSequence(np.asarray(ids, dtype=np.int64), np.asarray(wn, dtype=np.int64)))
    return out


def mask_batch(
    seqs: Sequence[MLMSequence],
    rng: np.random.Generator,
    *,
    mask_id: int,
    pad_id: int,
    vocab_size: int,
    n_special: int,
    probability: float,
    whole_word: bool,
) -> dict[str, torch.Tensor]:
    """BERT masking (80 % [MASK], 10 % random piece, 10 % unchanged) of ``probability`` of the words (or pieces)
    of each sequence, at least one per sequence; labels are the original ids there and -100 elsewhere.

    Written here rather than taken from ``DataCollatorForWholeWordMask`` because that collator infers words
    from ``##`` prefixes and draws from the global torch RNG; this one uses the exact word ids and its own seeded
    generator, so pretraining is reproducible."""
    width = max(len(s.ids) for s in seqs)
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    labels = np.full((len(seqs), width), -100, dtype=np.int64)
    att = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        n = len(s.ids)
        ids[i, :n] = s.ids
        att[i, :n] = 1
        units = s.word if whole_word else np.where(s.word >= 0, np.arange(n), -1)
        cands = np.unique(units[units >= 0])
        if len(cands) == 0:
            continue
        k = max(1, int(round(probability * len(cands))))
        chosen = rng.choice(cands, size=min(k, len(cands)), replace=False)
        pos = np.flatnonzero(np.isin(units, chosen))
        labels[i, pos] = s.ids[pos]
        r = rng.random(len(pos))
        ids[i, pos[r < 0.8]] = mask_id
        rnd = pos[(r >= 0.8) & (r < 0.9)]
        ids[i, rnd] = rng.integers(n_special, vocab_size, size=len(rnd))
    return {
        "input_ids": torch.from_numpy(ids),
        "attention_mask": torch.from_numpy(att),
        "labels": torch.from_numpy(labels),
    }


def masked_lm_loss(encoder: Any, head: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Masked-LM cross-entropy computed at the masked positions only.

    ``*ForMaskedLM.forward`` projects *every* position onto the vocabulary, which on a CPU costs more than the
    encoder itself for a small model; projecting only the ~15 % masked positions gives the same loss."""
    hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    labels = batch["labels"]
    sel = labels != -100
    return torch.nn.functional.cross_entropy(head(hidden[sel]), labels[sel])


def train_mlm(
    encoder: Any,
    head: Any,
    seqs: Sequence[MLMSequence],
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    mask_id: int,
    pad_id: int,
    vocab_size: int,
    n_special: int,
    probability: float = 0.15,
    whole_word: bool = True,
    warmup_ratio: float = 0.06,
    max_grad_norm: float = 1.0,
    clip: Sequence[torch.nn.Parameter] | None = None,
    desc: str = "MLM",
    progress: bool = True,
) -> list[dict[str, float]]:
    """Train ``encoder`` + ``head`` by masked language modelling on ``seqs`` (length-grouped batches, masking by
    :func:`mask_batch` from ``rng``, linear warm-up and decay, gradient clipping over ``clip``, by default the
    optimizer's parameters).
    Returns one row per epoch: ``epoch, mlm_loss, seconds, tokens, tokens_per_s``."""
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    total = epochs * math.ceil(len(seqs) / batch_size)
    sched = get_linear_schedule_with_warmup(optimizer, int(warmup_ratio * total), total)
    clip = list(clip) if clip is not None else [p for g in optimizer.param_groups for p in g["params"]]
    lengths = [len(s.ids) for s in seqs]
    history: list[dict[str, float]] = []
    encoder.train()
    head.train()
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        loss_sum, nb, ntok = 0.0, 0, 0
        for idx in length_grouped_batches(lengths, batch_size, rng, True):
            batch = mask_batch(
                [seqs[i] for i in idx],
                rng,
                mask_id=mask_id,
                pad_id=pad_id,
                vocab_size=vocab_size,
                n_special=n_special,
                probability=probability,
                whole_word=whole_word,
            )
            loss = masked_lm_loss(encoder, head, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(clip, max_grad_norm)
            optimizer.step()
            sched.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sum += float(loss.detach())
            nb += 1
            ntok += int(batch["attention_mask"].sum())
            bar.update(1)
        dt = time.perf_counter() - t0
        history.append(
            {
                "epoch": epoch,
                "mlm_loss": loss_sum / max(1, nb),
                "seconds": dt,
                "tokens": ntok,
                "tokens_per_s": ntok / dt if dt > 0 else float("nan"),
            }
        )
        bar.set_postfix(loss=f"{loss_sum / max(1, nb):.3f}")
    bar.close()
    encoder.eval()
    head.eval()
    return history


__all__ = ["MLMSequence", "mask_batch", "masked_lm_loss", "mlm_sequences", "train_mlm"]
