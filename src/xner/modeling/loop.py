"""The one optimisation loop behind every fine-tuning in xner: plain NER (softmax or CRF head), teacher–student
distillation and adapters. Callers differ only in how a batch's loss is computed (``batch_loss``).

Why hand-written rather than ``transformers.Trainer``: the loop is short, and it early-stops on *word-level strict
span F1* computed by the very predictor that evaluation uses, trains on windows of long sentences with
length-grouped batches and dynamic padding, keeps extra trainable modules (the CRF head) in step with the model,
and is exactly deterministic on the CPU under a seed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from xner.metrics import score
from xner.modeling.config import TrainConfig
from xner.modeling.predict import NERModel, pad_batch

log = logging.getLogger(__name__)

BatchLoss = Callable[[Any, list[Any], dict[str, torch.Tensor]], torch.Tensor]


class NothingToTrainError(ValueError):
    """There are no features or no trainable parameters."""


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator, group: bool
) -> list[list[int]]:
    """Shuffled batches; with ``group``, windows of similar length share a batch (mega-batches of 50 sorted)."""
    perm = rng.permutation(len(lengths)).tolist()
    if not group:
        return [perm[i : i + batch_size] for i in range(0, len(perm), batch_size)]
    mega = batch_size * 50
    batches: list[list[int]] = []
    for m in range(0, len(perm), mega):
        chunk = sorted(perm[m : m + mega], key=lambda i: -lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    order = rng.permutation(len(batches)).tolist()
    return [batches[i] for i in order]


def make_optimizer(model: Any, cfg: TrainConfig, extra: Sequence[torch.nn.Module] = ()) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters: no weight decay on biases and norms; the task head (parameters outside
    the encoder's ``base_model_prefix``) at ``classifier_learning_rate`` when set; ``extra`` modules (a CRF head)
    at ``crf_learning_rate``."""
    prefix = getattr(model, "base_model_prefix", "")
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        head = not (prefix and name.startswith(prefix + "."))
        no_decay = p.ndim < 2 or "norm" in name.lower() or name.endswith(".bias")
        groups.setdefault((head, no_decay), []).append(p)
    if not groups:
        raise NothingToTrainError(f"{type(model).__name__} has no trainable parameters")
    head_lr = cfg.classifier_learning_rate or cfg.learning_rate
    params = [
        {"params": ps, "lr": head_lr if head else cfg.learning_rate, "weight_decay": 0.0 if nd else cfg.weight_decay}
        for (head, nd), ps in sorted(groups.items())
    ]
    for module in extra:
        params.append({"params": list(module.parameters()), "lr": cfg.crf_learning_rate, "weight_decay": 0.0})
    return torch.optim.AdamW(params)


def evaluate_dev(predictor: NERModel, tokens: list[list[str]], gold: list[list[str]]) -> dict[str, float]:
    """Strict span P/R/F1 of ``predictor`` on dev sentences."""
    pred = predictor.predict(tokens)
    s = score(gold, pred, mode="strict")
    return {"dev_precision": s.precision, "dev_recall": s.recall, "dev_f1": s.f1}


@dataclass
class FitResult:
    """The learning curve (one row per epoch) and the epoch whose weights the model holds afterwards."""

    history: pd.DataFrame
    best_epoch: int | None


def _trainable(model: Any, extra: Sequence[torch.nn.Module]) -> dict[str, torch.nn.Parameter]:
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    for i, module in enumerate(extra):
        params.update({f"__extra{i}__.{n}": p for n, p in module.named_parameters()})
    return params


def _train_epoch(
    model: Any,
    feats: Sequence[Any],
    batches: Sequence[Sequence[int]],
    batch_loss: BatchLoss,
    step: Callable[[], None],
    pad_id: int,
    bar_desc: str | None,
) -> dict[str, float]:
    """One pass over ``batches`` (lists of feature indices): loss, backward, ``step()``; loss and throughput."""
    from tqdm.auto import tqdm

    model.train()
    t0, c0 = time.perf_counter(), time.process_time()
    loss_sum, n_batches, n_tok = 0.0, 0, 0
    bar = tqdm(batches, desc=bar_desc, disable=bar_desc is None, leave=False)
    for idx in bar:
        fb = [feats[i] for i in idx]
        batch = pad_batch(fb, pad_id)
        loss = batch_loss(model, fb, batch)
        loss.backward()
        step()
        loss_sum += float(loss.detach())
        n_batches += 1
        n_tok += int(batch["attention_mask"].sum())
        if n_batches % 20 == 0:
            bar.set_postfix(loss=f"{loss_sum / n_batches:.4f}")
    train_s = time.perf_counter() - t0
    return {
        "train_loss": loss_sum / max(1, n_batches),
        "train_seconds": train_s,
        "train_cpu_seconds": time.process_time() - c0,  # all threads of the process: robust to a busy machine
        "train_tokens_per_s": n_tok / train_s if train_s > 0 else float("nan"),
    }


def _dev_row(predictor: NERModel | None, dev_tokens: Any, dev_gold: Any) -> dict[str, float]:
    """Dev strict P/R/F1 and prediction speed, or NaNs without dev data."""
    if predictor is None or not dev_tokens or dev_gold is None:
        return {"dev_precision": float("nan"), "dev_recall": float("nan"), "dev_f1": float("nan")}
    t1 = time.perf_counter()
    row = evaluate_dev(predictor, dev_tokens, dev_gold)
    dt = time.perf_counter() - t1
    row["dev_sentences_per_s"] = len(dev_tokens) / dt if dt > 0 else float("nan")
    return row


def _restore(model: Any, extra: Sequence[torch.nn.Module], state: dict[str, torch.Tensor]) -> None:
    """Copy saved trainable weights back into ``model`` and ``extra``."""
    params = _trainable(model, extra)
    with torch.no_grad():
        for n, v in state.items():
            params[n].copy_(v)


def fit(
    model: Any,
    feats: Sequence[Any],
    cfg: TrainConfig,
    batch_loss: BatchLoss,
    *,
    pad_id: int,
    predictor: NERModel | None = None,
    dev_tokens: list[list[str]] | None = None,
    dev_gold: list[list[str]] | None = None,
    extra: Sequence[torch.nn.Module] = (),
    desc: str = "epoch",
) -> FitResult:
    """Train ``model`` (and the ``extra`` modules) on ``feats`` for ``cfg.epochs`` epochs.

    Each step pads a length-grouped batch of features (``pad_batch``), takes ``batch_loss(model, features,
    padded)``, clips the model's gradients at ``cfg.max_grad_norm`` and steps AdamW (:func:`make_optimizer`) with
    linear warm-up and decay. With dev sentences and a ``predictor`` over ``model``, each epoch is scored by strict
    span F1, training stops after ``cfg.early_stopping_patience`` epochs without improvement and the best epoch's
    trainable weights are restored; without dev data every epoch runs and the last is kept. Seeding is the
    caller's (the batch order uses ``cfg.seed``).
    """
    from transformers import get_linear_schedule_with_warmup

    if not feats:
        raise NothingToTrainError("nothing to train on (no features)")
    lengths = [len(f) for f in feats]
    total = math.ceil(len(feats) / cfg.batch_size) * cfg.epochs
    optim = make_optimizer(model, cfg, extra)
    sched = get_linear_schedule_with_warmup(optim, int(cfg.warmup_ratio * total), total)
    rng = np.random.default_rng(cfg.seed)
    clip = [p for p in model.parameters() if p.requires_grad]

    def step() -> None:
        if cfg.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(clip, cfg.max_grad_norm)
        optim.step()
        sched.step()
        optim.zero_grad(set_to_none=True)

    use_dev = bool(dev_tokens) and predictor is not None and dev_gold is not None
    history: list[dict[str, Any]] = []
    best_f1, best_epoch, best_state, bad = -1.0, None, None, 0
    for epoch in range(1, cfg.epochs + 1):
        batches = length_grouped_batches(lengths, cfg.batch_size, rng, cfg.group_by_length)
        bar_desc = f"{desc} {epoch}/{cfg.epochs}" if cfg.progress else None
        row: dict[str, Any] = {
            "epoch": epoch,
            **_train_epoch(model, feats, batches, batch_loss, step, pad_id, bar_desc),
        }
        row.update(_dev_row(predictor if use_dev else None, dev_tokens, dev_gold))
        history.append(row)
        log.info("%s %d: %s", desc, epoch, {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
        if not use_dev:
            continue
        if row["dev_f1"] > best_f1:
            best_f1, best_epoch, bad = row["dev_f1"], epoch, 0
            best_state = {n: p.detach().clone() for n, p in _trainable(model, extra).items()}
        else:
            bad += 1
            if cfg.early_stopping_patience is not None and bad >= cfg.early_stopping_patience:
                log.info("early stopping after %s %d (best %d, dev F1 %.4f)", desc, epoch, best_epoch, best_f1)
                break
    if best_state is not None:
        _restore(model, extra, best_state)
    else:
        best_epoch = history[-1]["epoch"]
    model.eval()
    return FitResult(pd.DataFrame(history), best_epoch)


__all__ = [
    "BatchLoss",
    "FitResult",
    "NothingToTrainError",
    "evaluate_dev",
    "fit",
    "length_grouped_batches",
    "make_optimizer",
]
