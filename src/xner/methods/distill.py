"""Teacher–student distillation on unlabelled target text (Wu et al. 2020, single- and multi-source).

Teachers are NER models fine-tuned on source languages (any :class:`~xner.modeling.NERModel`). A student —
a fresh token classifier on an encoder, by default the same encoder the teachers started from — is trained on
the *tokens* of target-language text (labels never read) to match the teachers' label probabilities at each
word's first sub-word:

* ``loss="mse"`` (as published): mean squared error between the student's softmax and the teachers'
  probabilities;
* ``loss="kl"``: ``T² · KL(p_teacher^T ‖ softmax(student / T))`` with temperature ``T`` (Hinton et al. 2015);
  the teachers' probabilities are then softened with the same ``T``.

With several teachers the target distribution is ``Σ_k α_k p_k`` where the weights ``α = softmax(sim / τ)``
come from a source–target similarity (:func:`language_similarity`). Wu et al. derive the similarity from a
language-identification model; xner uses a measure that needs nothing beyond the text and the encoder, and
reports it per source (:class:`SourceWeight`):

* ``"embedding"`` (default): cosine similarity of the two languages' centroids — the mean over sentences of
  the encoder's mean-pooled last hidden states (``max_sentences`` of each language's text);
* ``"vocabulary"``: Jaccard overlap of the two texts' (lower-cased) word types.

The temperature, by default, comes from the data as in the reference code (microsoft/vert-papers,
SingleMulti-TS, ``--tau_metric var``; :func:`data_temperature_weights`): every target sentence gets a
similarity to each source — the cosine of its (mean-pooled) embedding with that source's centroid — and
``τ = var`` of that sentences × sources matrix (all entries, unbiased), each sentence's weights are
``softmax(sim / τ)`` over sources, and a source's weight is the mean over target sentences. This is the
reference's non-learned ``cosine`` variant; its default ``learn`` variant replaces the cosine by the logits of a
learned language-identification model (not built here), and it embeds sentences with BERT's pooler output, which
the converted e5 checkpoint lacks (mean pooling here). A fixed ``weight_temperature`` (0.01 for embeddings, 0.05
for vocabulary were this module's earlier defaults) gives ``softmax(centroid similarity / τ)`` instead.

The training budget defaults to the reference's (:data:`REFERENCE_BUDGET`: 3 epochs over the full
unlabelled target text, batch 32, learning rate 1e-4, the embeddings and the bottom 3 encoder layers frozen);
:class:`DistillConfig` fields override the shared :class:`~xner.modeling.TrainConfig` for the student only; the
TrainConfig's ``bf16`` and a ``freeze_layers`` above 3 (the offline recipe's 6) apply to the student as well.
Published (mBERT, CoNLL, en→es/nl/de) F1: single-source 76.9 / 80.9 / 73.2,
multi-source 78.0 / 81.3 / 75.3 — for reference only, not xner results.

The student is an ordinary checkpoint (``NERModel.save`` → ``save_pretrained``; ``NERModel.load`` reads it).
It is trained by the same loop as every other fine-tuning (:func:`xner.modeling.loop.fit`), with the
distillation loss in place of cross-entropy.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from xner.data import tag_names
from xner.modeling.config import TrainConfig
from xner.modeling.loop import fit
from xner.modeling.predict import NERModel, load_tokenizer, pad_id_of, token_logits
from xner.modeling.tokenize import Feature
from xner.modeling.train import load_token_classifier, training_predictor
from xner.utils import cap, default_threads, set_seed

log = logging.getLogger(__name__)

LOSSES = ("mse", "kl")
SIMILARITIES = ("embedding", "vocabulary")
DEFAULT_TAU = {"embedding": 0.01, "vocabulary": 0.05}
#: The student's training budget in the reference code (SingleMulti-TS ``main_single.py``/``main.py`` defaults).
REFERENCE_BUDGET = {"epochs": 3, "batch_size": 32, "learning_rate": 1e-4, "freeze_bottom_layers": 3, "max_text": None}


class DistillError(ValueError):
    """Teachers, text or settings that cannot be distilled as given."""


# ---------------------------------------------------------------------------------------------- similarity


@dataclass(frozen=True)
class SourceWeight:
    """One teacher's source language, its similarity to the target and its softmax weight."""

    source: str
    similarity: float
    weight: float
    measure: str
    temperature: float


def vocabulary_similarity(text_a: Sequence[Sequence[str]], text_b: Sequence[Sequence[str]]) -> float:
    """Jaccard overlap of the lower-cased word types of two texts."""
    va = {w.lower() for s in text_a for w in s}
    vb = {w.lower() for s in text_b for w in s}
    if not va or not vb:
        raise DistillError("vocabulary similarity of an empty text is undefined")
    return len(va & vb) / len(va | vb)


def text_centroid(
    encoder: str | Any,
    text: Sequence[Sequence[str]],
    *,
    max_sentences: int = 500,
    batch_size: int = 64,
    max_length: int = 128,
    tokenizer: Any | None = None,
) -> np.ndarray:
    """Mean over sentences of the mean-pooled last hidden state of ``encoder`` (a path/name or a loaded model).

    Sentences are encoded as pre-split words (first ``max_sentences``, truncated to ``max_length`` sub-words).
    """
    from transformers import AutoModel

    sents = [list(s) for s in text if len(s) > 0][:max_sentences]
    if not sents:
        raise DistillError("no non-empty sentences to embed")
    if isinstance(encoder, (str, Path)):
        tokenizer = tokenizer or load_tokenizer(str(encoder))
        model = AutoModel.from_pretrained(str(encoder))
    else:
        model = encoder
        if tokenizer is None:
            raise DistillError("text_centroid needs the tokenizer when given a loaded model")
    base = getattr(model, getattr(model, "base_model_prefix", ""), model)
    if hasattr(base, "encoder") and not hasattr(base, "embeddings") and hasattr(base, "get_encoder"):
        base = base.get_encoder()  # T5-style models: embed with the encoder stack only
    return sentence_embeddings(base, tokenizer, sents, batch_size=batch_size, max_length=max_length).mean(axis=0)


def language_similarity(
    text_a: Sequence[Sequence[str]],
    text_b: Sequence[Sequence[str]],
    measure: str = "embedding",
    *,
    encoder: str | None = None,
    max_sentences: int = 500,
) -> float:
    """Similarity of two languages from their text: ``"embedding"`` (cosine of encoder centroids; needs
    ``encoder``) or ``"vocabulary"`` (Jaccard overlap of word types). See the module docstring."""
    if measure == "vocabulary":
        return vocabulary_similarity(
            text_a[:max_sentences] if max_sentences else text_a, text_b[:max_sentences] if max_sentences else text_b
        )
    if measure != "embedding":
        raise DistillError(f"unknown similarity measure {measure!r}; expected one of {SIMILARITIES}")
    if encoder is None:
        raise DistillError("the embedding similarity needs an encoder (path or name)")
    tok = load_tokenizer(str(encoder))
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(encoder))
    a = text_centroid(model, text_a, max_sentences=max_sentences, tokenizer=tok)
    b = text_centroid(model, text_b, max_sentences=max_sentences, tokenizer=tok)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def softmax_weights(similarities: Sequence[float], temperature: float) -> np.ndarray:
    """``softmax(similarities / temperature)`` (numerically stable); temperature must be > 0."""
    if temperature <= 0:
        raise DistillError(f"the weighting temperature must be > 0, got {temperature}")
    s = np.asarray(similarities, dtype=np.float64) / temperature
    e = np.exp(s - s.max())
    return e / e.sum()


def sentence_embeddings(
    model: Any, tokenizer: Any, text: Sequence[Sequence[str]], *, batch_size: int = 64, max_length: int = 128
) -> np.ndarray:
    """Mean-pooled last hidden state of each (non-empty) sentence, ``(n, hidden)``."""
    base = getattr(model, getattr(model, "base_model_prefix", ""), model)
    base.eval()
    sents = [list(s) for s in text if len(s) > 0]
    out = []
    with torch.inference_mode():
        for b in range(0, len(sents), batch_size):
            enc = tokenizer(
                sents[b : b + batch_size],
                is_split_into_words=True,
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            enc = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask")}
            hidden = base(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).float().numpy())
    return np.concatenate(out)


def data_temperature_weights(similarity: np.ndarray) -> tuple[np.ndarray, float]:
    """The reference's weights from a sentences × sources similarity matrix: ``τ = var(similarity)`` over all
    entries (unbiased, as ``torch.var``), per-sentence ``softmax(sim / τ)``, mean over sentences.

    Returns ``(weights, τ)``. A matrix without variance (every entry equal) has no data temperature: error.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2 or sim.shape[1] < 1 or sim.shape[0] < 1 or sim.size < 2:
        raise DistillError(f"expected a sentences × sources similarity matrix, got shape {sim.shape}")
    tau = float(np.var(sim, ddof=1))
    if not tau > 0:
        raise DistillError("all similarities are equal: the data temperature τ = var(similarity) is 0")
    z = sim / tau
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).mean(axis=0), tau


def source_weights(
    sources: Mapping[str, Sequence[Sequence[str]]],
    target_text: Sequence[Sequence[str]],
    *,
    measure: str = "embedding",
    encoder: str | None = None,
    temperature: float | str | None = None,
    max_sentences: int = 500,
) -> list[SourceWeight]:
    """Similarity of each source's text to the target text and the softmax weights (one row per source).

    ``temperature="data"`` (embedding measure only) is the reference's data-based temperature
    (:func:`data_temperature_weights`; the reported similarity is then the mean over target sentences);
    a number is a fixed ``τ`` of ``softmax(centroid similarity / τ)``; ``None`` the per-measure fixed default.
    """
    if not sources:
        raise DistillError("no source languages to weight")
    if temperature == "data":
        if measure != "embedding":
            raise DistillError("the data temperature needs per-sentence similarities: use measure='embedding'")
        return _data_weights(sources, target_text, encoder, max_sentences)
    if isinstance(temperature, str):
        raise DistillError(f"temperature must be a number, None or 'data', got {temperature!r}")
    tau = DEFAULT_TAU.get(measure, 0.05) if temperature is None else temperature
    if measure == "embedding":
        if encoder is None:
            raise DistillError("the embedding similarity needs an encoder (path or name)")
        from transformers import AutoModel

        tok = load_tokenizer(str(encoder))
        model = AutoModel.from_pretrained(str(encoder))
        t = text_centroid(model, target_text, max_sentences=max_sentences, tokenizer=tok)
        sims = []
        for text in sources.values():
            c = text_centroid(model, text, max_sentences=max_sentences, tokenizer=tok)
            sims.append(float(c @ t / (np.linalg.norm(c) * np.linalg.norm(t))))
    elif measure == "vocabulary":
        sims = [
            language_similarity(text, target_text, "vocabulary", max_sentences=max_sentences)
            for text in sources.values()
        ]
    else:
        raise DistillError(f"unknown similarity measure {measure!r}; expected one of {SIMILARITIES}")
    w = softmax_weights(sims, tau)
    return [SourceWeight(src, s, float(wi), measure, tau) for src, s, wi in zip(sources, sims, w, strict=True)]


def _data_weights(
    sources: Mapping[str, Sequence[Sequence[str]]],
    target_text: Sequence[Sequence[str]],
    encoder: str | None,
    max_sentences: int,
) -> list[SourceWeight]:
    if encoder is None:
        raise DistillError("the embedding similarity needs an encoder (path or name)")
    from transformers import AutoModel

    tok = load_tokenizer(str(encoder))
    model = AutoModel.from_pretrained(str(encoder))
    tgt = sentence_embeddings(model, tok, target_text[:max_sentences] if max_sentences else target_text)
    tgt /= np.maximum(np.linalg.norm(tgt, axis=1, keepdims=True), 1e-12)
    cols = []
    for text in sources.values():
        c = text_centroid(model, text, max_sentences=max_sentences, tokenizer=tok)
        cols.append(tgt @ (c / np.linalg.norm(c)))
    sim = np.stack(cols, axis=1)
    w, tau = data_temperature_weights(sim)
    return [
        SourceWeight(src, float(sim[:, k].mean()), float(w[k]), "embedding/data-τ", tau)
        for k, src in enumerate(sources)
    ]


# ---------------------------------------------------------------------------------------------- soft targets


def teacher_probabilities(
    teachers: Sequence[NERModel],
    weights: Sequence[float],
    tokens: Sequence[Sequence[str]],
    temperature: float = 1.0,
) -> list[np.ndarray]:
    """Per sentence, the ``(n_words, n_labels)`` weighted mixture of the teachers' (tempered) probabilities."""
    if not teachers:
        raise DistillError("no teachers given")
    if len(weights) != len(teachers):
        raise DistillError(f"{len(teachers)} teachers but {len(weights)} weights")
    w = np.asarray(weights, dtype=np.float64)
    if np.any(w < 0) or not math.isclose(float(w.sum()), 1.0, abs_tol=1e-6):
        raise DistillError(f"teacher weights must be ≥ 0 and sum to 1, got {list(w)}")
    labels = teachers[0].labels
    for t in teachers[1:]:
        if tuple(t.labels) != tuple(labels):
            raise DistillError(f"teachers disagree on labels: {labels} vs {t.labels}")
    mix: list[np.ndarray] | None = None
    for teacher, wk in zip(teachers, w, strict=True):
        probs = []
        for lg in teacher.predict_logits(tokens):
            z = lg.astype(np.float64) / temperature
            e = np.exp(z - z.max(axis=-1, keepdims=True)) if len(z) else z
            probs.append(e / e.sum(axis=-1, keepdims=True) if len(z) else z)
        mix = [wk * p for p in probs] if mix is None else [m + wk * p for m, p in zip(mix, probs, strict=True)]
    assert mix is not None
    return [m.astype(np.float32) for m in mix]


def soft_batch(
    feats: Sequence[Feature], targets: Sequence[np.ndarray], width: int, n_labels: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Target probabilities ``(B, width, L)`` at each feature's owned first sub-words, and their mask ``(B, width)``."""
    t = torch.zeros((len(feats), width, n_labels), dtype=torch.float32)
    m = torch.zeros((len(feats), width), dtype=torch.bool)
    for i, f in enumerate(feats):
        pos = [p for p, w in enumerate(f.word_index) if w >= 0]
        if not pos:
            continue
        words = [f.word_index[p] for p in pos]
        t[i, pos] = torch.from_numpy(np.ascontiguousarray(targets[f.sentence][words]))
        m[i, pos] = True
    return t, m


def distill_loss(
    logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, loss: str = "mse", temperature: float = 1.0
) -> torch.Tensor:
    """Student loss at masked positions: MSE of probabilities (published) or T²-scaled KL with temperature."""
    lg = logits[mask]
    tg = target[mask]
    if lg.numel() == 0:
        return logits.sum() * 0.0
    if loss == "mse":
        return torch.nn.functional.mse_loss(torch.softmax(lg, dim=-1), tg)
    if loss == "kl":
        logp = torch.log_softmax(lg / temperature, dim=-1)
        return torch.nn.functional.kl_div(logp, tg, reduction="batchmean") * temperature**2
    raise DistillError(f"unknown distillation loss {loss!r}; expected one of {LOSSES}")


# ---------------------------------------------------------------------------------------------- distillation


#: What a teacher may set for itself (:attr:`DistillConfig.teacher_settings`) and what each must be.
TEACHER_SETTINGS = {"learning_rate": "a number > 0", "epochs": "a whole number ≥ 1"}


def check_teacher_settings(source: str, settings: Mapping[str, Any]) -> None:
    """Raise :class:`DistillError` naming the source, the setting and what was expected unless ``settings`` holds
    only :data:`TEACHER_SETTINGS` with valid values."""
    for name, value in settings.items():
        if name not in TEACHER_SETTINGS:
            expected = ", ".join(TEACHER_SETTINGS)
            raise DistillError(f"teacher {source!r}: {name!r} is not a teacher setting; expected any of {expected}")
        number = isinstance(value, int | float) and not isinstance(value, bool)
        ok = number and value > 0 and (name != "epochs" or float(value).is_integer())
        if not ok:
            raise DistillError(f"teacher {source!r}: {name}={value!r}; expected {TEACHER_SETTINGS[name]}")


@dataclass
class DistillConfig:
    """How to distil teachers into a student (training settings come from a :class:`TrainConfig`)."""

    loss: str = field(
        default="mse", metadata={"help": "mse (published: MSE of probabilities) or kl (with temperature)."}
    )
    temperature: float = field(default=1.0, metadata={"help": "Softening temperature T of the kl loss (1 for mse)."})
    similarity: str = field(
        default="embedding", metadata={"help": "Source–target similarity: embedding or vocabulary."}
    )
    weight_temperature: float | str | None = field(
        default="data",
        metadata={"help": "τ of softmax(sim/τ): 'data' (reference: 1/var of the similarities), a number, or None."},
    )
    similarity_sentences: int = field(
        default=500, metadata={"help": "Sentences of each language's text for the similarity."}
    )
    weights: dict[str, float] | None = field(
        default=None, metadata={"help": "Fixed teacher weights by source (skips the similarity)."}
    )
    init_from: str | None = field(
        default=None, metadata={"help": "Student encoder (default: TrainConfig.model resolved)."}
    )
    epochs: int | None = field(
        default=REFERENCE_BUDGET["epochs"], metadata={"help": "Student epochs (reference 3; None: TrainConfig's)."}
    )
    batch_size: int | None = field(
        default=REFERENCE_BUDGET["batch_size"], metadata={"help": "Student batch (reference 32; None: TrainConfig's)."}
    )
    learning_rate: float | None = field(
        default=None,
        metadata={"help": "Student learning rate (None: TrainConfig's; the reference's is 1e-4, REFERENCE_BUDGET)."},
    )
    teacher_settings: dict[str, dict[str, float]] | None = field(
        default=None,
        metadata={
            "help": "A teacher's own fine-tuning settings by source language, over the shared ones: learning_rate, "
            "epochs (e.g. {'nl': {'learning_rate': 2e-4, 'epochs': 8}}); for a source whose data the shared ones do "
            "not train (CoNLL-2002 nl at the offline recipe's 5e-4 and 3 epochs)."
        },
    )
    freeze_bottom_layers: int = field(
        default=REFERENCE_BUDGET["freeze_bottom_layers"],
        metadata={
            "help": "Freeze the embeddings and the bottom n encoder layers (reference 3; 0: only as TrainConfig)."
        },
    )

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise DistillError(f"unknown distillation loss {self.loss!r}; expected one of {LOSSES}")
        if self.similarity not in SIMILARITIES:
            raise DistillError(f"unknown similarity {self.similarity!r}; expected one of {SIMILARITIES}")
        if self.temperature <= 0:
            raise DistillError(f"temperature must be > 0, got {self.temperature}")
        if self.freeze_bottom_layers < 0:
            raise DistillError(f"freeze_bottom_layers must be >= 0, got {self.freeze_bottom_layers}")
        for source, settings in (self.teacher_settings or {}).items():
            check_teacher_settings(source, settings)
        if self.teacher_settings:  # epochs as whole numbers (8.0 from a command line is 8: one cache key for both)
            self.teacher_settings = {
                source: {k: int(v) if k == "epochs" else v for k, v in settings.items()}
                for source, settings in self.teacher_settings.items()
            }
        if self.loss == "mse" and self.temperature != 1.0:
            raise DistillError(
                "the mse loss uses the teachers' probabilities as they are; temperature applies to kl only"
            )


@dataclass
class DistillResult:
    """The student, the teachers' weights and the learning curve."""

    model: NERModel
    weights: list[SourceWeight]
    history: pd.DataFrame
    best_epoch: int | None
    output_dir: Path | None
    stats: dict[str, Any]


def distill(
    teachers: Mapping[str, NERModel],
    target_text: Sequence[Sequence[str]],
    student_encoder: str,
    config: TrainConfig | None = None,
    distill_config: DistillConfig | None = None,
    *,
    source_texts: Mapping[str, Sequence[Sequence[str]]] | None = None,
    dev: Any | None = None,
    output_dir: str | Path | None = None,
    run_name: str = "distilled",
) -> DistillResult:
    """Train a student on unlabelled ``target_text`` to match the (weighted) teachers; see the module docstring.

    Args:
        teachers: source language → teacher (all with the same labels).
        target_text: target sentences as word lists (labels are never read; ``max_train_samples`` caps them).
        student_encoder: resolved encoder path/name the student starts from.
        config: training settings (epochs, learning rate, batch size, freeze_embeddings, seed ...).
        distill_config: loss, temperature and teacher weighting.
        source_texts: each source's text, for the similarity (required with ≥ 2 teachers unless fixed weights).
        dev: optional labelled dev set for early stopping (use a *source* dev set to stay zero-shot).
        output_dir: where to save the student (``NERModel.save``).
    """
    dcfg = distill_config or DistillConfig()
    cfg = budget(config or TrainConfig(), dcfg)
    names = list(teachers)
    if not names:
        raise DistillError("no teachers given")
    text = [list(s) for s in target_text if len(s) > 0]
    skipped = len(target_text) - len(text)
    if cfg.max_train_samples is not None:
        text = text[: cfg.max_train_samples]
    if not text:
        raise DistillError("the unlabelled target text is empty")
    t_start = time.perf_counter()
    if dcfg.weights is not None:
        missing = sorted(set(names) - set(dcfg.weights))
        if missing:
            raise DistillError(f"fixed weights lack teachers {missing}")
        total = sum(dcfg.weights[n] for n in names)
        weights = [SourceWeight(n, math.nan, dcfg.weights[n] / total, "fixed", math.nan) for n in names]
    elif len(names) == 1:
        weights = [SourceWeight(names[0], math.nan, 1.0, "single", math.nan)]
    else:
        if source_texts is None or sorted(set(names) - set(source_texts)):
            raise DistillError(f"multi-source weighting needs the text of every source {names} (source_texts)")
        weights = source_weights(
            {n: source_texts[n] for n in names},
            text,
            measure=dcfg.similarity,
            encoder=student_encoder,
            temperature=dcfg.weight_temperature,
            max_sentences=dcfg.similarity_sentences,
        )
    for w in weights:
        log.info("teacher %s: similarity %.4f weight %.3f (%s)", w.source, w.similarity, w.weight, w.measure)
    t_teach = time.perf_counter()
    targets = teacher_probabilities(
        [teachers[n] for n in names],
        [w.weight for w in weights],
        text,
        temperature=dcfg.temperature if dcfg.loss == "kl" else 1.0,
    )
    teacher_seconds = time.perf_counter() - t_teach
    labels = list(teachers[names[0]].labels)
    set_seed(cfg.seed)
    encoder = dcfg.init_from or student_encoder
    tokenizer = load_tokenizer(encoder)
    model = load_token_classifier(encoder, labels)
    if cfg.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    # the reference freezes the bottom 3 layers; a recipe that freezes more (the offline one: 6) applies to the
    # student as to its teachers
    frozen = freeze_bottom(model, max(dcfg.freeze_bottom_layers, cfg.freeze_layers))
    threads = cfg.num_threads or default_threads()
    student = training_predictor(model, tokenizer, labels, cfg, run_name)
    feats, enc_stats = student.encoder.encode(text)
    n_labels = len(labels)

    def batch_loss(m: Any, fb: list[Feature], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = token_logits(m, batch["input_ids"], batch["attention_mask"], bf16=cfg.bf16)
        tgt, mask = soft_batch(fb, targets, logits.shape[1], n_labels)
        return distill_loss(logits, tgt, mask, dcfg.loss, dcfg.temperature)

    dev_tokens = dev_gold = None
    if dev is not None and len(dev) > 0:
        dcap = cap(dev, cfg.max_eval_samples)
        dev_tokens, dev_gold = [list(t) for t in dcap["tokens"]], tag_names(dcap)
    torch.set_num_threads(threads)
    fitted = fit(
        model,
        feats,
        cfg,
        batch_loss,
        pad_id=pad_id_of(tokenizer),
        predictor=student,
        dev_tokens=dev_tokens,
        dev_gold=dev_gold,
        desc="distil",
    )
    history, best_epoch = fitted.history, fitted.best_epoch
    student.bf16 = False  # predictions after training are float32, as from the saved checkpoint
    stats = {
        "n_target_sentences": len(text),
        "n_empty_skipped": skipped,
        "n_windows": len(feats),
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "frozen_parameters": frozen,
        "teacher_seconds": teacher_seconds,
        "seconds": time.perf_counter() - t_start,
        **{f"encode_{k}": v for k, v in enc_stats.as_dict().items()},
    }
    out = None
    if output_dir is not None:
        out = Path(output_dir)
        student.save(
            out,
            extra={
                "setting": "distilled",
                "encoder": encoder,
                "teachers": names,
                "teacher_weights": [dataclasses.asdict(w) for w in weights],
                "distill_config": dataclasses.asdict(dcfg),
                "train_config": dataclasses.asdict(cfg),
                "best_epoch": best_epoch,
                "stats": stats,
            },
        )
        history.to_csv(out / "history.csv", index=False, lineterminator="\n")
    return DistillResult(student, weights, history, best_epoch, out, stats)


def budget(cfg: TrainConfig, dcfg: DistillConfig) -> TrainConfig:
    """The student's training settings: ``cfg`` with the epochs, batch size and learning rate of ``dcfg`` where it
    sets them."""
    changes = {k: getattr(dcfg, k) for k in ("epochs", "batch_size", "learning_rate") if getattr(dcfg, k) is not None}
    return dataclasses.replace(cfg, **changes)


def freeze_bottom(model: Any, n_layers: int) -> int:
    """Freeze the embeddings and the bottom ``n_layers`` transformer layers (the reference's ``no_grad`` list:
    ``embeddings`` and ``layer.0.`` … ``layer.{n-1}.``); returns how many parameters were frozen. ``0`` does
    nothing. More layers than the encoder has is an error."""
    if n_layers == 0:
        return 0
    base = getattr(model, getattr(model, "base_model_prefix", ""), None)
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if base is None or layers is None or not hasattr(base, "embeddings"):
        raise DistillError(f"cannot find the embeddings and encoder layers of {type(model).__name__} to freeze")
    if n_layers > len(layers):
        raise DistillError(f"freeze_bottom_layers={n_layers} but the encoder has {len(layers)} layers")
    params = [*base.embeddings.parameters(), *(p for layer in layers[:n_layers] for p in layer.parameters())]
    for p in params:
        p.requires_grad_(False)
    return sum(p.numel() for p in params)


def weights_table(weights: Sequence[SourceWeight], **columns: Any) -> pd.DataFrame:
    """The teachers' similarities and weights as a tidy table (extra ``columns`` added to every row)."""
    return pd.DataFrame([{**columns, **dataclasses.asdict(w)} for w in weights])


__all__ = [
    "DEFAULT_TAU",
    "DistillConfig",
    "DistillError",
    "DistillResult",
    "REFERENCE_BUDGET",
    "budget",
    "data_temperature_weights",
    "freeze_bottom",
    "sentence_embeddings",
    "LOSSES",
    "SIMILARITIES",
    "SourceWeight",
    "distill",
    "distill_loss",
    "language_similarity",
    "soft_batch",
    "softmax_weights",
    "source_weights",
    "teacher_probabilities",
    "text_centroid",
    "vocabulary_similarity",
    "weights_table",
]
