"""A fine-tuned token-classification model as a predictor: ``.predict(tokens) -> tags per word``.

:class:`NERModel` wraps any ``AutoModelForTokenClassification`` checkpoint (BERT, XLM-R, mT5's encoder, the
mini encoder …) with its tokenizer. Prediction batches windows sorted by length (little padding), runs without
gradients, and reads one label per word from its first sub-word in the window that owns it
(:mod:`xner.modeling.tokenize`), so long sentences are stitched back whole.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xner.labels import LabelSet
from xner.modeling.crf_head import FILE as CRF_FILE
from xner.modeling.crf_head import CRFHead
from xner.modeling.decode import constrained_decode, viterbi
from xner.modeling.tokenize import EncodeStats, Feature, SubwordEncoder, effective_max_length
from xner.utils import default_threads

log = logging.getLogger(__name__)

META_FILE = "xner_model.json"


class ModelLoadError(OSError):
    """A model folder or name cannot be loaded."""


def pad_batch(feats: Sequence[Feature], pad_id: int, with_labels: bool = True) -> dict[str, torch.Tensor]:
    """Dynamic padding: pad a batch of features to its longest member."""
    width = max(len(f) for f in feats)
    ids = torch.full((len(feats), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(feats), width), dtype=torch.long)
    labels = torch.full((len(feats), width), -100, dtype=torch.long)
    for i, f in enumerate(feats):
        n = len(f)
        ids[i, :n] = torch.tensor(f.input_ids, dtype=torch.long)
        mask[i, :n] = 1
        if with_labels:
            labels[i, :n] = torch.tensor(f.labels, dtype=torch.long)
    out = {"input_ids": ids, "attention_mask": mask}
    if with_labels:
        out["labels"] = labels
    return out


def token_logits(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, bf16: bool = False) -> torch.Tensor:
    """Per-sub-word logits of a token classifier, in float32.

    With ``bf16`` the encoder (``model.base_model``) runs under ``torch.autocast("cpu", torch.bfloat16)`` and only
    the encoder: its output is cast back to float32 before the dropout and classification layer, so the head, any
    CRF on top, the loss and the optimizer state stay in float32 (a CRF's forbidden-transition scores and
    log-sum-exp do not survive bf16). Needs the usual ``base_model`` → ``dropout`` → ``classifier`` layout of
    ``*ForTokenClassification`` models (BERT, XLM-R, mT5's encoder)."""
    if not bf16:
        return model(input_ids=input_ids, attention_mask=attention_mask).logits
    head, drop = getattr(model, "classifier", None), getattr(model, "dropout", None)
    if not isinstance(head, torch.nn.Module) or not isinstance(drop, torch.nn.Module):
        raise ValueError(
            f"bf16 needs a token classifier with 'dropout' and 'classifier' layers after its encoder; "
            f"{type(model).__name__} has none: set bf16=False"
        )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        hidden = model.base_model(input_ids=input_ids, attention_mask=attention_mask)[0]
    return head(drop(hidden.float()))


def pad_id_of(tokenizer: Any) -> int:
    """The tokenizer's padding id (0 when it has none; padded positions are masked anyway)."""
    pid = getattr(tokenizer, "pad_token_id", None)
    return int(pid) if pid is not None else 0


def load_tokenizer(name_or_path: str, **kwargs: Any) -> Any:
    """Load a fast tokenizer for pre-split words (RoBERTa/GPT-2 byte-level BPE needs ``add_prefix_space``)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
    try:
        tok(["a", "b"], is_split_into_words=True)
    except (ValueError, AssertionError) as exc:
        if "add_prefix_space" not in str(exc):
            raise
        tok = AutoTokenizer.from_pretrained(name_or_path, add_prefix_space=True, **kwargs)
    return tok


class NERModel:
    """A token-classification model with its tokenizer and label set, exposing ``predict(tokens)``."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        labels: Sequence[str] | LabelSet,
        *,
        max_length: int = 128,
        window_overlap: float = 0.5,
        batch_size: int = 64,
        num_threads: int | None = None,
        name: str = "",
        decode: str = "viterbi",
        crf: Any | None = None,
        bf16: bool = False,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.labels = tuple(labels.labels if isinstance(labels, LabelSet) else labels)
        n_out = getattr(getattr(model, "config", None), "num_labels", len(self.labels))
        if n_out != len(self.labels):
            raise ValueError(f"model predicts {n_out} labels but {len(self.labels)} label names were given")
        self.max_length = effective_max_length(tokenizer, getattr(model, "config", None), max_length)
        self.encoder = SubwordEncoder(tokenizer, self.max_length, window_overlap)
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.name = name
        if decode not in ("viterbi", "argmax", "crf"):
            raise ValueError(f"decode must be 'viterbi' (valid IOB2, default), 'argmax' or 'crf', got {decode!r}")
        if decode == "crf" and crf is None:
            raise ValueError("decode='crf' needs a trained CRF head (xner.modeling.crf_head.CRFHead)")
        self.decode = decode
        self.crf = crf
        self.bf16 = bf16  # the encoder under bf16 autocast (token_logits); the saved model does not keep it
        self.last_stats = EncodeStats()

    # ------------------------------------------------------------------ prediction

    def predict_logits(self, tokens: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Per sentence, a ``(n_words, n_labels)`` float array of logits read at each word's first sub-word."""
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        feats, stats = self.encoder.encode(tokens)
        self.last_stats = stats
        out = [np.zeros((len(s), len(self.labels)), dtype=np.float32) for s in tokens]
        seen = [np.zeros(len(s), dtype=bool) for s in tokens]
        order = sorted(range(len(feats)), key=lambda i: len(feats[i]))
        pad = pad_id_of(self.tokenizer)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for b in range(0, len(order), self.batch_size):
                    batch = [feats[i] for i in order[b : b + self.batch_size]]
                    enc = pad_batch(batch, pad, with_labels=False)
                    logits = token_logits(self.model, **enc, bf16=self.bf16).float().numpy()
                    for f, lg in zip(batch, logits, strict=True):
                        pos = [p for p, w in enumerate(f.word_index) if w >= 0]
                        words = [f.word_index[p] for p in pos]
                        out[f.sentence][words] = lg[pos]
                        seen[f.sentence][words] = True
        finally:
            self.model.train(was_training)
        missing = sum(int((~s).sum()) for s in seen)
        if missing:  # cannot happen unless the encoder is broken; never return silent "O"s
            raise RuntimeError(f"{missing} words received no prediction; this is a bug in the window stitching")
        return out

    def predict_proba(self, tokens: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Per sentence, a ``(n_words, n_labels)`` array of label probabilities (softmax of the logits)."""
        out = []
        for lg in self.predict_logits(tokens):
            e = np.exp(lg - lg.max(axis=-1, keepdims=True)) if len(lg) else lg
            out.append(e / e.sum(axis=-1, keepdims=True) if len(lg) else lg)
        return out

    def predict(self, tokens: Sequence[Sequence[str]]) -> list[list[str]]:
        """IOB2 tag strings per word for each sentence, from the first sub-word's logits: the most probable
        valid IOB2 sequence (``decode="viterbi"``, default) or the arg-max per word (``decode="argmax"``)."""
        out = []
        if self.decode == "crf":
            sc = self.crf.to_numpy()
        for lg in self.predict_logits(tokens):
            if self.decode == "crf":
                ids = viterbi(lg.astype(np.float64), sc["start"], sc["end"], sc["trans"])
            elif self.decode == "viterbi":
                ids = constrained_decode(lg, self.labels)
            else:
                ids = lg.argmax(axis=-1).tolist()
            out.append([self.labels[i] for i in ids])
        return out

    __call__ = predict

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Save as a standard checkpoint (``save_pretrained`` for model and tokenizer) plus ``xner_model.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        meta = {
            "labels": list(self.labels),
            "max_length": self.max_length,
            "window_overlap": self.encoder.window_overlap,
            "name": self.name,
            "decode": self.decode,
        }
        meta.update(extra or {})
        (path / META_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
        if self.crf is not None:
            self.crf.save(path)
        return path

    @classmethod
    def load(cls, path: str | Path, *, batch_size: int = 64, num_threads: int | None = None) -> NERModel:
        """Load a fine-tuned checkpoint folder (labels from ``xner_model.json`` or the config's ``id2label``)."""
        from transformers import AutoModelForTokenClassification

        path = Path(path)
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"{path}: not a model folder (no config.json); train one with xner.modeling.train_ner")
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8")) if (path / META_FILE).is_file() else {}
        model = AutoModelForTokenClassification.from_pretrained(path, local_files_only=True)
        labels = meta.get("labels") or [model.config.id2label[i] for i in range(model.config.num_labels)]
        crf = CRFHead.load(path) if (path / CRF_FILE).is_file() else None
        return cls(
            model,
            load_tokenizer(str(path), local_files_only=True),
            labels,
            max_length=int(meta.get("max_length", 128)),
            window_overlap=float(meta.get("window_overlap", 0.5)),
            batch_size=batch_size,
            num_threads=num_threads or default_threads(),
            name=meta.get("name", path.name),
            decode=meta.get("decode", "viterbi"),
            crf=crf,
        )


__all__ = [
    "META_FILE",
    "ModelLoadError",
    "NERModel",
    "load_tokenizer",
    "pad_batch",
    "pad_id_of",
]
