"""Fine-tuning any encoder for NER (CPU-friendly, deterministic under a seed): data checks, model and head set-up,
then the shared optimisation loop :func:`xner.modeling.loop.fit`, then saving.

The encoder is any ``AutoModelForTokenClassification`` checkpoint: a hub name (XLM-R, mBERT, ``google/mt5-*``,
whose encoder ``MT5ForTokenClassification`` wraps), a local folder, or one of the offline encoders
(``e5-small``, ``mini-<size>``) resolved by :func:`xner.modeling.encoders.resolve_encoder`.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from xner.data import label_set_of, tag_names
from xner.labels import LabelError, LabelSet
from xner.modeling.config import TrainConfig, save_config
from xner.modeling.crf_head import CRFHead, word_emissions
from xner.modeling.encoders import resolve_encoder
from xner.modeling.loop import fit
from xner.modeling.predict import ModelLoadError, NERModel, load_tokenizer, pad_id_of, token_logits
from xner.utils import cap, default_threads, set_seed

log = logging.getLogger(__name__)


class TrainingDataError(ValueError):
    """The training or dev data cannot be used as given."""


@dataclass
class TrainResult:
    """A trained predictor with its learning curve and counts."""

    model: NERModel
    history: pd.DataFrame
    best_epoch: int | None
    output_dir: Path | None
    encoder: str
    stats: dict[str, Any] = field(default_factory=dict)


def check_same_labels(train_labels: LabelSet, other_labels: LabelSet, what: str) -> None:
    """Raise when two datasets use different label sets (a mapping must be explicit: xner.data.map_labels)."""
    if tuple(train_labels.labels) != tuple(other_labels.labels):
        raise LabelError(
            f"the training data uses labels {' '.join(train_labels.labels)} but the {what} uses "
            f"{' '.join(other_labels.labels)}; map one onto the other explicitly with "
            "xner.data.map_labels(ds, target, type_map={...}) (e.g. type_map={'MISC': None} to drop MISC)"
        )


DROPOUT_KEYS = (
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "dropout_rate",
    "dropout",
    "attention_dropout",
    "classifier_dropout",
)


def load_token_classifier(encoder: str, labels: Sequence[str], dropout: float | None = None) -> Any:
    """Load ``encoder`` with a fresh token-classification head for ``labels``; clear error when not found.

    ``dropout`` overrides every dropout setting the checkpoint's configuration has (BERT, XLM-R, T5 names)."""
    from transformers import AutoModelForTokenClassification
    from transformers.utils import logging as hf_logging

    id2label = dict(enumerate(labels))
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the load report lists the new head and the unused LM head: expected here
    try:
        extra: dict[str, Any] = {}
        if dropout is not None:
            from transformers import AutoConfig

            cfg = AutoConfig.from_pretrained(encoder)
            extra = {k: dropout for k in DROPOUT_KEYS if k in cfg.to_dict()}
        model = AutoModelForTokenClassification.from_pretrained(
            encoder,
            num_labels=len(labels),
            id2label=id2label,
            label2id={v: k for k, v in id2label.items()},
            ignore_mismatched_sizes=True,
            **extra,
        )
        log.info("loaded %s as %s with a new %d-label head", encoder, type(model).__name__, len(labels))
        return model
    except OSError as exc:
        raise ModelLoadError(
            f"cannot load encoder {encoder!r}: {exc}. Offline, point the model setting at a local folder holding "
            "config.json, the weights and the tokenizer (e.g. saved with save_pretrained), or use 'e5-small' / "
            "'mini-<size>'."
        ) from exc
    finally:
        hf_logging.set_verbosity(verbosity)


def _flushing_denormals(fn: Any) -> Any:
    """Run ``fn`` with denormal floats flushed to zero, restoring the process default afterwards.

    Adam's second-moment estimates underflow into denormals, which x86 CPUs process very slowly: flushing them
    halved CPU fine-tuning time (measured on e5-small). It is global processor state, so it is undone on return.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        torch.set_flush_denormal(True)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_flush_denormal(False)

    return wrapper


@_flushing_denormals
def train_ner(
    train: Any,
    dev: Any | None,
    config: TrainConfig | None = None,
    *,
    encoder: str | None = None,
    languages: Sequence[str] | None = None,
    encoder_seed: int = 0,
    output_dir: str | Path | None = None,
    run_name: str = "",
) -> TrainResult:
    """Fine-tune an encoder for NER on ``train`` with early stopping on strict F1 over ``dev``.

    Args:
        train: a ``datasets.Dataset`` with ``tokens`` and ``ner_tags`` (ClassLabel); its label set is the model's.
        dev: a dataset with the same label set for early stopping, or None/empty (then all epochs run and the
            last is kept; logged).
        config: a :class:`TrainConfig` (defaults when None).
        encoder: an already resolved checkpoint path or name; default ``resolve_encoder(config.model, ...)``.
        languages: languages for a ``mini-<size>`` encoder (its pretraining data).
        encoder_seed: seed of the mini encoder's pretraining (independent of the fine-tuning seed).
        output_dir: where to save the best checkpoint (``save_pretrained``), its config and learning curve.
        run_name: a label stored with the model.
    """
    cfg = config or TrainConfig()
    set_seed(cfg.seed)
    threads = cfg.num_threads or default_threads()
    torch.set_num_threads(threads)
    if train is None or len(train) == 0:
        raise TrainingDataError("the training split is empty: nothing to train on")
    label_set = label_set_of(train)
    train = cap(train, cfg.max_train_samples)
    dev_tokens, dev_gold = _dev_lists(dev, label_set, cfg)
    if encoder is None:
        encoder = resolve_encoder(cfg.model, languages=languages, seed=encoder_seed)
    labels = list(label_set.labels)
    tokenizer = load_tokenizer(encoder)
    model = load_token_classifier(encoder, labels, cfg.dropout)
    freeze(model, cfg.freeze_embeddings, cfg.freeze_layers)
    crf = CRFHead(labels) if cfg.head == "crf" else None
    predictor = training_predictor(model, tokenizer, labels, cfg, run_name or cfg.model, crf=crf)
    tokens = [list(t) for t in train["tokens"]]
    feats, enc_stats = predictor.encoder.encode(tokens, train["ner_tags"])
    if not feats:
        raise TrainingDataError(f"all {len(tokens)} training sentences are empty")
    loss = functools.partial(_ner_loss, crf=crf, bf16=cfg.bf16)
    extra = [crf] if crf is not None else []
    fitted = fit(
        model,
        feats,
        cfg,
        loss,
        pad_id=pad_id_of(tokenizer),
        predictor=predictor,
        dev_tokens=dev_tokens,
        dev_gold=dev_gold,
        extra=extra,
    )
    predictor.bf16 = False  # predictions after training are float32, as from the saved checkpoint
    hist = fitted.history
    hist.insert(0, "run", run_name or cfg.model)
    stats = {
        "n_train_sentences": len(tokens),
        "n_dev_sentences": len(dev_tokens),
        "n_train_windows": len(feats),
        "encoder": encoder,
        "threads": threads,
        **{f"encode_{k}": v for k, v in enc_stats.as_dict().items()},
    }
    out_dir = None
    if output_dir is not None and cfg.save_checkpoint:
        out_dir = _save(
            predictor,
            Path(output_dir),
            cfg,
            hist,
            {"encoder": encoder, "best_epoch": fitted.best_epoch, "labels_name": label_set.name, "stats": stats},
        )
    return TrainResult(
        model=predictor, history=hist, best_epoch=fitted.best_epoch, output_dir=out_dir, encoder=encoder, stats=stats
    )


def training_predictor(
    model: Any, tokenizer: Any, labels: list[str], cfg: TrainConfig, name: str, *, crf: CRFHead | None = None
) -> NERModel:
    """The predictor over a model being trained (dev scoring during training, prediction afterwards), set up from
    its training configuration; shared by fine-tuning, distillation and adapters."""
    threads = cfg.num_threads or default_threads()
    return NERModel(
        model,
        tokenizer,
        labels,
        max_length=cfg.max_length,
        window_overlap=cfg.window_overlap,
        batch_size=cfg.eval_batch_size,
        num_threads=threads,
        name=name,
        decode="crf" if crf is not None else cfg.decode,
        crf=crf,
        bf16=cfg.bf16,
    )


def _dev_lists(dev: Any | None, label_set: LabelSet, cfg: TrainConfig) -> tuple[list[list[str]], list[list[str]]]:
    """Dev tokens and gold tags for early stopping (checked), or empty lists without dev data (logged)."""
    if dev is None or len(dev) == 0:
        log.warning("no dev data: early stopping is off; all %d epochs run and the last epoch is kept", cfg.epochs)
        return [], []
    check_same_labels(label_set, label_set_of(dev), "dev split")
    dev = cap(dev, cfg.max_eval_samples)
    dev_gold = tag_names(dev)
    if not any(t != "O" for s in dev_gold for t in s):
        raise TrainingDataError(
            "the dev split has no entities: strict F1 is undefined, so it cannot drive "
            "early stopping; pass dev=None to train all epochs without it"
        )
    return [list(t) for t in dev["tokens"]], dev_gold


def _ner_loss(
    m: Any, fb: list[Any], batch: dict[str, torch.Tensor], *, crf: CRFHead | None, bf16: bool
) -> torch.Tensor:
    """Mean token cross-entropy (softmax head) or per-word CRF negative log-likelihood of one padded batch."""
    logits = token_logits(m, batch["input_ids"], batch["attention_mask"], bf16=bf16)
    if crf is None:
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), ignore_index=-100)
    em, tags_, mask = word_emissions(logits, batch["labels"])
    return crf.nll(em, tags_, mask) / mask.sum()


def freeze(model: Any, embeddings: bool, layers: int = 0) -> None:
    """Freeze the word embeddings, or (``layers`` > 0) all embeddings and the lowest ``layers`` encoder layers."""
    if embeddings or layers:
        model.get_input_embeddings().weight.requires_grad_(False)
    if not layers:
        return
    base = model.base_model
    stack = getattr(getattr(base, "encoder", base), "layer", None)
    if stack is None:
        stack = getattr(getattr(base, "encoder", base), "block", None)
    if stack is None or layers > len(stack):
        raise ValueError(
            f"freeze_layers={layers}: {type(model).__name__} has "
            f"{'no encoder.layer / encoder.block stack' if stack is None else f'only {len(stack)} layers'}"
        )
    emb = getattr(base, "embeddings", None)
    for module in [emb, *list(stack)[:layers]]:
        if module is not None:
            module.requires_grad_(False)


def _save(predictor: NERModel, out_dir: Path, cfg: TrainConfig, hist: pd.DataFrame, extra: dict[str, Any]) -> Path:
    """Save the checkpoint with its metadata, the training configuration and the learning curve."""
    predictor.save(out_dir, extra={**extra, "train_config": dataclasses.asdict(cfg)})
    save_config(cfg, out_dir / "train_config.yaml")
    hist.to_csv(out_dir / "history.csv", index=False, lineterminator="\n")
    return out_dir


def copy_config(cfg: TrainConfig, **changes: Any) -> TrainConfig:
    """A copy of a configuration with some fields changed (validated again)."""
    return dataclasses.replace(copy.deepcopy(cfg), **changes)


__all__ = [
    "TrainResult",
    "TrainingDataError",
    "check_same_labels",
    "copy_config",
    "freeze",
    "load_token_classifier",
    "set_seed",
    "train_ner",
]
