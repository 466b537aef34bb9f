"""Parameter-efficient transfer through ``peft``: LoRA fine-tuning and MAD-X-style language + task adapters.

* **LoRA** (:func:`train_lora_ner`): low-rank adapters on the encoder's attention projections; the encoder's
  own weights stay frozen, the token-classification head is trained in full and saved with the adapter
  (``modules_to_save``). :func:`save_adapter_model` writes the adapter folder (``adapter_config.json``,
  ``adapter_model.safetensors``), the tokenizer and ``xner_model.json``; :func:`load_adapter_model` reads it
  back onto the base encoder; :func:`merge_adapter` folds the adapter into an ordinary checkpoint that
  :meth:`xner.modeling.NERModel.load` reads.
* **MAD-X style** (Pfeiffer et al. 2020, with LoRA modules in place of bottleneck adapters — ``peft`` has no
  bottleneck adapters; the language adapter's LoRA (:func:`madx_language_lora`: rank 40 on each layer's
  feed-forward projections, where MAD-X puts its adapters) has about as many parameters as a MAD-X language
  adapter of reduction factor 2 (≈1.8M at width 384); the budget is not MAD-X's 250k MLM steps but
  :class:`MLMConfig`' (stated there) and its effect is measured as held-out MLM loss in
  ``language_adapter.json``):
  a *language adapter* is trained by masked language modelling on the unlabelled text of one language
  (:func:`train_language_adapter`, one for the source and one for the target); the *task adapter* is trained on
  source NER with the source language adapter active and frozen (:func:`train_madx`); at test time the target
  language adapter is swapped into the same slot (:func:`swap_language`). Both adapters are active at once:
  LoRA updates add up, which is how stacking reads for LoRA modules.

The language adapter's MLM loss is computed at the masked positions only (the output layer over a 250k-piece
vocabulary would otherwise dominate the cost). Encoders saved without an MLM head (the converted e5 checkpoint)
get a freshly initialised transform in front of the tied output embeddings; it is trained with the adapter and
discarded, as MAD-X discards its MLM head. T5-family encoders (mT5) have no masked-LM head in ``transformers``;
MAD-X stops with a clear error for them (LoRA works for them).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from xner.data import label_set_of, tag_names
from xner.modeling.config import TrainConfig
from xner.modeling.encoders import resolve_encoder
from xner.modeling.encoders.mlm import mask_batch, mlm_sequences, train_mlm
from xner.modeling.loop import fit
from xner.modeling.predict import META_FILE, NERModel, load_tokenizer, pad_id_of
from xner.modeling.tokenize import Feature
from xner.modeling.train import load_token_classifier, training_predictor
from xner.utils import cap, default_threads, set_seed

log = logging.getLogger(__name__)

LANG_SLOT = "lang"
TASK_SLOT = "task"
DEFAULT_TARGETS = {
    "bert": ["query", "value"],
    "xlm-roberta": ["query", "value"],
    "roberta": ["query", "value"],
    "distilbert": ["q_lin", "v_lin"],
    "t5": ["q", "v"],
    "mt5": ["q", "v"],
    "deberta-v2": ["query_proj", "value_proj"],
}


class AdapterError(ValueError):
    """An adapter cannot be built, trained, loaded or stacked as asked."""


@dataclass
class AdapterConfig:
    """LoRA hyper-parameters (``peft.LoraConfig``)."""

    r: int = field(default=8, metadata={"help": "Rank of the low-rank update."})
    alpha: int = field(default=16, metadata={"help": "Scaling numerator (update scaled by alpha / r)."})
    dropout: float = field(default=0.1, metadata={"help": "Dropout on the adapter input."})
    target_modules: list[str] | str | None = field(
        default=None, metadata={"help": "Modules to adapt: names, a peft regex, or None (by model type)."}
    )
    # 5e-3: e5-small, 1,000 sentences, 2 epochs, batch 16 (300 target test sentences, strict F1): nl→af 0.475 at
    # 2e-3, 0.628 at 5e-3; id→ms 0.694 at 5e-3, 0.627 at 1e-2 (at 5e-4 the head barely learns: af 0.000).
    learning_rate: float = field(
        default=5e-3,
        metadata={"help": "Learning rate of adapters and head (LoRA wants far more than full fine-tuning)."},
    )

    def __post_init__(self) -> None:
        if self.r < 1:
            raise AdapterError(f"LoRA rank must be ≥ 1, got {self.r}")


def target_modules_for(model: Any, settings: AdapterConfig) -> list[str] | str:
    """The modules LoRA adapts: ``settings.target_modules`` (names, or a regex string as peft reads it) or the
    attention query/value projections by type."""
    if isinstance(settings.target_modules, str):
        return settings.target_modules
    if settings.target_modules:
        return list(settings.target_modules)
    mtype = getattr(getattr(model, "config", None), "model_type", "")
    if mtype not in DEFAULT_TARGETS:
        raise AdapterError(f"no default LoRA target modules for model type {mtype!r}; set AdapterConfig.target_modules")
    return list(DEFAULT_TARGETS[mtype])


def head_modules(model: Any) -> list[str]:
    """Top-level modules of a token classifier outside its encoder that hold weights (the classification head)."""
    prefix = getattr(model, "base_model_prefix", "")
    out = [n for n, m in model.named_children() if n != prefix and any(True for _ in m.parameters())]
    if not out:
        raise AdapterError(f"cannot find the classification head of {type(model).__name__}")
    return out


def lora_config(model: Any, settings: AdapterConfig, *, task: bool) -> Any:
    """A ``peft.LoraConfig``; a task config keeps the head trainable and saved (``modules_to_save``)."""
    from peft import LoraConfig, TaskType

    kw: dict[str, Any] = {
        "r": settings.r,
        "lora_alpha": settings.alpha,
        "lora_dropout": settings.dropout,
        "target_modules": target_modules_for(model, settings),
    }
    if task:
        kw.update(task_type=TaskType.TOKEN_CLS, modules_to_save=head_modules(model))
    return LoraConfig(**kw)


def _labelled(ds: Any) -> tuple[list[list[str]], list[list[int]]]:
    return [list(t) for t in ds["tokens"]], [list(t) for t in ds["ner_tags"]]


def _dev_lists(dev: Any, cfg: TrainConfig) -> tuple[list[list[str]] | None, list[list[str]] | None]:
    if dev is None or len(dev) == 0:
        return None, None
    d = cap(dev, cfg.max_eval_samples)
    return [list(t) for t in d["tokens"]], tag_names(d)


def _ce_loss(m: Any, fb: list[Feature], batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return m(**batch).loss


def trainable_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    tr = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return tr, sum(p.numel() for p in model.parameters())


@dataclass
class AdapterResult:
    """A predictor over an adapted model, its learning curve and counts."""

    model: NERModel
    history: pd.DataFrame
    best_epoch: int | None
    output_dir: Path | None
    stats: dict[str, Any]


# ---------------------------------------------------------------------------------------------- LoRA


def _task_predictor(
    train: Any,
    encoder: str,
    cfg: TrainConfig,
    lora: AdapterConfig,
    run_name: str,
    language_adapter: Any = None,
) -> NERModel:
    """A LoRA task adapter (head kept trainable) on ``encoder`` for ``train``'s labels, as a predictor; with
    ``language_adapter`` (a :func:`train_language_adapter` folder) stacked below it."""
    from peft import get_peft_model

    labels = list(label_set_of(train).labels)
    tokenizer = load_tokenizer(encoder)
    base = load_token_classifier(encoder, labels)
    model = get_peft_model(base, lora_config(base, lora, task=True), adapter_name=TASK_SLOT)
    if language_adapter is not None:
        _add_language_slot(model, Path(language_adapter))
    return training_predictor(model, tokenizer, labels, cfg, run_name)


def _train_task(
    predictor: NERModel, train: Any, dev: Any, cfg: TrainConfig, lora: AdapterConfig, desc: str
) -> tuple[pd.DataFrame, int | None, list[list[str]]]:
    """Encode the labelled training sentences and run :func:`_fit_task` at the adapters' learning rate, scoring
    on ``dev``; returns the learning curve, the best epoch and the training tokens."""
    tokens, tags = _labelled(train)
    feats, _ = predictor.encoder.encode(tokens, tags)
    dev_tokens, dev_gold = _dev_lists(dev, cfg)
    history, best = _fit_task(
        predictor.model,
        feats,
        dataclasses.replace(cfg, learning_rate=lora.learning_rate),
        pad_id=pad_id_of(predictor.tokenizer),
        predictor=predictor,
        dev_tokens=dev_tokens,
        dev_gold=dev_gold,
        desc=desc,
    )
    return history, best, tokens


def _fit_task(model: Any, feats: Sequence[Feature], cfg: TrainConfig, **kwargs: Any) -> tuple[pd.DataFrame, int | None]:
    """The shared optimisation loop (:func:`xner.modeling.loop.fit`) with the model's cross-entropy loss."""
    torch.set_num_threads(cfg.num_threads or default_threads())
    fitted = fit(model, feats, cfg, _ce_loss, **kwargs)
    return fitted.history, fitted.best_epoch


def train_lora_ner(
    train: Any,
    dev: Any | None,
    encoder: str,
    config: TrainConfig | None = None,
    lora: AdapterConfig | None = None,
    *,
    output_dir: str | Path | None = None,
    run_name: str = "lora",
) -> AdapterResult:
    """Fine-tune LoRA adapters (and the full head) of ``encoder`` for NER on ``train``; early stopping on ``dev``."""
    cfg = config or TrainConfig()
    lora = lora or AdapterConfig()
    set_seed(cfg.seed)
    t0 = time.perf_counter()
    train = cap(train, cfg.max_train_samples)
    predictor = _task_predictor(train, encoder, cfg, lora, run_name)
    model = predictor.model
    history, best, tokens = _train_task(predictor, train, dev, cfg, lora, "lora")
    tr, tot = trainable_parameters(model)
    stats = {
        "n_train_sentences": len(tokens),
        "trainable_parameters": tr,
        "total_parameters": tot,
        "seconds": time.perf_counter() - t0,
    }
    meta = {
        "kind": "lora",
        "encoder": encoder,
        "lora": dataclasses.asdict(lora),
        "train_config": dataclasses.asdict(cfg),
        "best_epoch": best,
        "stats": stats,
    }
    predictor.adapter_meta = meta  # type: ignore[attr-defined]
    out = save_adapter_model(predictor, output_dir) if output_dir is not None else None
    return AdapterResult(predictor, history, best, out, stats)


def save_adapter_model(predictor: NERModel, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Save an adapted predictor: task adapter (with the head), language adapters (MAD-X), tokenizer, metadata."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    meta = dict(getattr(predictor, "adapter_meta", {}) or {})
    if "kind" not in meta:
        raise AdapterError("this predictor carries no adapter metadata; save ordinary models with NERModel.save")
    predictor.model.save_pretrained(path / "adapter", selected_adapters=[TASK_SLOT])
    if meta["kind"] == "madx":
        for lang, src in meta["language_adapters"].items():
            dst = path / "language_adapters" / lang
            if Path(src).resolve() != dst.resolve():
                if dst.exists():
                    shutil.rmtree(dst)
                shutil.copytree(src, dst)
        meta["language_adapters"] = {lang: f"language_adapters/{lang}" for lang in meta["language_adapters"]}
    predictor.tokenizer.save_pretrained(path)
    meta.update(
        {
            "labels": list(predictor.labels),
            "max_length": predictor.max_length,
            "window_overlap": predictor.encoder.window_overlap,
            "name": predictor.name,
            **(extra or {}),
        }
    )
    (path / META_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def _task_adapter_dir(path: Path) -> Path:
    d = path / "adapter"
    return d / TASK_SLOT if (d / TASK_SLOT / "adapter_config.json").is_file() else d


def load_adapter_model(
    path: str | Path, *, language: str | None = None, batch_size: int = 64, num_threads: int | None = None
) -> NERModel:
    """Load a folder written by :func:`save_adapter_model` onto its base encoder (MAD-X: with the language
    adapter ``language``, default the one active when saved)."""
    from peft import PeftModel

    path = Path(path)
    meta_file = path / META_FILE
    if not meta_file.is_file():
        raise AdapterError(f"{path}: no {META_FILE}; not an adapter folder written by xner.methods.adapters")
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    if meta.get("kind") not in ("lora", "madx"):
        raise AdapterError(f"{path}: {META_FILE} says kind={meta.get('kind')!r}, expected lora or madx")
    encoder = str(meta["encoder"])
    if not Path(encoder).exists():
        encoder = resolve_encoder(meta.get("encoder_name", encoder))
    labels = list(meta["labels"])
    base = load_token_classifier(encoder, labels)
    model = PeftModel.from_pretrained(base, str(_task_adapter_dir(path)), adapter_name=TASK_SLOT)
    model.eval()
    predictor = NERModel(
        model,
        load_tokenizer(str(path)),
        labels,
        max_length=int(meta["max_length"]),
        window_overlap=float(meta["window_overlap"]),
        batch_size=batch_size,
        num_threads=num_threads or default_threads(),
        name=meta.get("name", path.name),
    )
    if meta["kind"] == "madx":
        meta["language_adapters"] = {k: str(path / v) for k, v in meta["language_adapters"].items()}
        predictor.adapter_meta = meta  # type: ignore[attr-defined]
        _add_language_slot(model, Path(meta["language_adapters"][meta["active_language"]]))
        swap_language(predictor, language or meta["active_language"])
    else:
        predictor.adapter_meta = meta  # type: ignore[attr-defined]
    return predictor


def merge_adapter(predictor: NERModel) -> NERModel:
    """An ordinary predictor with the LoRA update merged into the encoder weights (``merge_and_unload``);
    its ``save`` writes a standard checkpoint that ``NERModel.load`` reads. The input predictor is unchanged."""
    import copy

    model = copy.deepcopy(predictor.model).merge_and_unload()
    return NERModel(
        model,
        predictor.tokenizer,
        predictor.labels,
        max_length=predictor.max_length,
        window_overlap=predictor.encoder.window_overlap,
        batch_size=predictor.batch_size,
        num_threads=predictor.num_threads,
        name=predictor.name,
    )


# ---------------------------------------------------------------------------------------------- MAD-X


#: FFN projections of BERT-style encoders (``layer.N.intermediate.dense`` and ``layer.N.output.dense``, not the
#: attention's ``attention.output.dense``) — the position of MAD-X's adapters, as a peft regex.
FFN_MODULES = r".*\.layer\.\d+\.(intermediate|output)\.dense"


def madx_language_lora() -> AdapterConfig:
    """The language adapter's LoRA: rank 40 on the feed-forward projections of every layer. For e5-small (12
    layers, width 384, FFN 1536) that is 12 · 40 · 2 · (384 + 1536) = 1,843,200 parameters, about a MAD-X
    language adapter of reduction factor 2 (12 · 2 · 384 · 192 + biases ≈ 1.77M)."""
    return AdapterConfig(r=40, alpha=80, dropout=0.1, target_modules=FFN_MODULES)


@dataclass
class MLMConfig:
    """Masked-language-model training of a language adapter — the budget, stated.

    Default: one epoch over *all* the text given (``max_sentences=None``; :func:`xner.methods.language_adapter`
    gives all local train and dev text of the language but a held-out slice of dev), batch 32, learning rate
    1e-3 (MAD-X uses 1e-4 over 250k steps of batch 64; with a few hundred steps on a CPU the larger rate is kept),
    15 % whole-word masking, sequences of at most 128 pieces. The held-out MLM loss before and after
    (``language_adapter.json``) is what says whether the adapter learned.
    """

    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 1e-3
    mlm_probability: float = 0.15
    max_length: int = 128
    max_sentences: int | None = None
    warmup_ratio: float = 0.06
    seed: int = 0
    num_threads: int | None = None
    progress: bool = True


def _mlm_parts(mlm: Any) -> tuple[Any, Any]:
    prefix = getattr(mlm, "base_model_prefix", "")
    base = getattr(mlm, prefix, None)
    heads = [m for n, m in mlm.named_children() if n != prefix]
    if base is None or len(heads) != 1:
        raise AdapterError(f"cannot split {type(mlm).__name__} into encoder and masked-LM head")
    return base, heads[0]


def heldout_mlm_loss(
    base: Any, head: Any, seqs: Sequence[Any], mask_kw: dict[str, Any], *, batch_size: int = 64, seed: int = 0
) -> float:
    """Mean masked-LM cross-entropy per masked piece on ``seqs``, masked by a generator seeded with ``seed`` (the
    same masks every call, so losses of one text before and after training compare)."""
    rng = np.random.default_rng(seed)
    total, n = 0.0, 0
    base.eval()
    head.eval()
    with torch.inference_mode():
        for b in range(0, len(seqs), batch_size):
            batch = mask_batch(list(seqs[b : b + batch_size]), rng, **mask_kw)
            hidden = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
            sel = batch["labels"] != -100
            total += float(torch.nn.functional.cross_entropy(head(hidden[sel]), batch["labels"][sel], reduction="sum"))
            n += int(sel.sum())
    if n == 0:
        raise AdapterError("no masked piece in the held-out text")
    return total / n


def train_language_adapter(
    encoder: str,
    text: Sequence[Sequence[str]],
    lang: str,
    output_dir: str | Path,
    lora: AdapterConfig | None = None,
    settings: MLMConfig | None = None,
    *,
    heldout: Sequence[Sequence[str]] | None = None,
) -> Path:
    """Train a LoRA language adapter by masked language modelling on ``text`` (word lists); save it (peft format
    plus ``language_adapter.json`` with the loss curve) in ``output_dir`` and return that folder.

    With ``heldout`` text, ``language_adapter.json`` also holds its MLM loss (fixed masks) before training, after
    training, and after training with the adapter switched off (same trained MLM head: what the adapter itself
    adds; the e5 checkpoint has no MLM head, so "before" is a fresh head's loss)."""
    from peft import get_peft_model
    from transformers import AutoConfig, AutoModelForMaskedLM

    lora = lora or AdapterConfig()
    st = settings or MLMConfig()
    mtype = AutoConfig.from_pretrained(encoder).model_type
    if mtype in ("t5", "mt5", "umt5"):
        raise AdapterError(
            f"{encoder} is a {mtype} model: transformers has no masked-LM head for it, so a MAD-X "
            "language adapter cannot be trained by MLM; use method 'lora' for T5-family encoders"
        )
    set_seed(st.seed)
    torch.set_num_threads(st.num_threads or default_threads())
    t0 = time.perf_counter()
    tokenizer = load_tokenizer(encoder)
    if tokenizer.mask_token_id is None:
        raise AdapterError(f"the tokenizer of {encoder} has no mask token; MLM is impossible")
    sents = [list(s) for s in text if len(s) > 0]
    if st.max_sentences is not None:
        sents = sents[: st.max_sentences]
    if not sents:
        raise AdapterError(f"no text to train the {lang} language adapter on")
    mlm = AutoModelForMaskedLM.from_pretrained(encoder)
    model = get_peft_model(mlm, lora_config(mlm, lora, task=False))
    base, head = _mlm_parts(model.base_model.model)
    tied = model.get_input_embeddings().weight
    for p in head.parameters():  # the MLM head trains with the adapter (and is discarded), except tied embeddings
        if p is not tied:
            p.requires_grad_(True)
    seqs = mlm_sequences(tokenizer, sents, st.max_length)
    specials = sorted(i for i in tokenizer.all_special_ids if i is not None)
    n_special = 1 + max(i for i in specials if i < len(tokenizer) // 2) if specials else 0
    mask_kw = {
        "mask_id": tokenizer.mask_token_id,
        "pad_id": pad_id_of(tokenizer),
        "vocab_size": len(tokenizer),
        "n_special": n_special,
        "probability": st.mlm_probability,
        "whole_word": True,
    }
    held = mlm_sequences(tokenizer, [list(s) for s in heldout if len(s) > 0], st.max_length) if heldout else []
    losses: dict[str, float] = {}
    if held:
        losses["heldout_mlm_loss_before"] = heldout_mlm_loss(base, head, held, mask_kw, seed=st.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=st.learning_rate, weight_decay=0.0)
    history = train_mlm(
        base,
        head,
        seqs,
        optim,
        epochs=st.epochs,
        batch_size=st.batch_size,
        rng=np.random.default_rng(st.seed),
        mask_id=tokenizer.mask_token_id,
        pad_id=pad_id_of(tokenizer),
        vocab_size=len(tokenizer),
        n_special=n_special,
        probability=st.mlm_probability,
        whole_word=True,
        warmup_ratio=st.warmup_ratio,
        desc=f"MLM {lang}",
        progress=st.progress,
    )
    model.eval()
    if held:
        losses["heldout_mlm_loss_after"] = heldout_mlm_loss(base, head, held, mask_kw, seed=st.seed)
        with model.disable_adapter():
            losses["heldout_mlm_loss_after_adapter_off"] = heldout_mlm_loss(base, head, held, mask_kw, seed=st.seed)
        log.info("language adapter %s: held-out MLM loss %s", lang, losses)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    info = {
        "language": lang,
        "encoder": encoder,
        "n_sentences": len(sents),
        "n_sequences": len(seqs),
        "n_heldout_sentences": len(heldout or []),
        "adapter_parameters": sum(p.numel() for n, p in model.named_parameters() if "lora_" in n),
        "steps": st.epochs * -(-len(seqs) // st.batch_size),
        **losses,
        "lora": dataclasses.asdict(lora),
        "mlm": dataclasses.asdict(st),
        "history": history,
        "seconds": time.perf_counter() - t0,
    }
    (out / "language_adapter.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return out


def _lang_state(adapter_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    f = adapter_dir / "adapter_model.safetensors"
    if not f.is_file():
        raise AdapterError(f"{adapter_dir}: no adapter_model.safetensors (train it with train_language_adapter)")
    out = {}
    for k, v in load_file(str(f)).items():
        for part in ("lora_A", "lora_B"):
            k = k.replace(f".{part}.weight", f".{part}.{LANG_SLOT}.weight")
        out[k] = v
    return out


def _add_language_slot(model: Any, adapter_dir: Path) -> None:
    from peft import LoraConfig

    if LANG_SLOT not in model.peft_config:
        cfg = LoraConfig.from_pretrained(str(adapter_dir))
        cfg.task_type = None
        cfg.modules_to_save = None
        model.add_adapter(LANG_SLOT, cfg)
    _load_language_weights(model, adapter_dir)


def _load_language_weights(model: Any, adapter_dir: Path) -> None:
    from peft.tuners.tuners_utils import BaseTunerLayer

    state = _lang_state(adapter_dir)
    own = {n for n, _ in model.named_parameters() if f".{LANG_SLOT}." in n and ".lora_" in n}
    res = model.load_state_dict(state, strict=False)
    if res.unexpected_keys:
        raise AdapterError(
            f"{adapter_dir}: {len(res.unexpected_keys)} weights do not fit this encoder "
            f"(e.g. {res.unexpected_keys[0]}); was the adapter trained on another encoder?"
        )
    missing = own - set(state)
    if missing:
        raise AdapterError(
            f"{adapter_dir}: the language adapter lacks {len(missing)} weights (e.g. {sorted(missing)[0]})"
        )
    for m in model.modules():  # both adapters active in every LoRA layer: their updates add up (stacking)
        if isinstance(m, BaseTunerLayer):
            m.set_adapter([LANG_SLOT, TASK_SLOT])
    for n, p in model.named_parameters():
        if f".{LANG_SLOT}." in n:
            p.requires_grad_(False)


def swap_language(predictor: NERModel, lang: str) -> NERModel:
    """Put the language adapter of ``lang`` into the language slot of a MAD-X predictor (in place)."""
    meta = getattr(predictor, "adapter_meta", None) or {}
    if meta.get("kind") != "madx":
        raise AdapterError("swap_language needs a MAD-X predictor (from train_madx or load_adapter_model)")
    if lang not in meta["language_adapters"]:
        raise AdapterError(f"no {lang!r} language adapter; have {sorted(meta['language_adapters'])}")
    _load_language_weights(predictor.model, Path(meta["language_adapters"][lang]))
    meta["active_language"] = lang
    predictor.model.eval()
    return predictor


def train_madx(
    train: Any,
    dev: Any | None,
    encoder: str,
    language_adapters: dict[str, str | Path],
    source: str,
    target: str,
    config: TrainConfig | None = None,
    lora: AdapterConfig | None = None,
    *,
    output_dir: str | Path | None = None,
    run_name: str = "madx",
) -> AdapterResult:
    """Train the task adapter on source NER with the ``source`` language adapter active and frozen, then swap in
    the ``target`` language adapter. ``language_adapters`` maps languages to :func:`train_language_adapter` folders."""
    for lang in (source, target):
        if lang not in language_adapters:
            raise AdapterError(f"no language adapter for {lang!r}; train one with train_language_adapter")
    cfg = config or TrainConfig()
    lora = lora or AdapterConfig()
    set_seed(cfg.seed)
    t0 = time.perf_counter()
    train = cap(train, cfg.max_train_samples)
    predictor = _task_predictor(train, encoder, cfg, lora, run_name, language_adapters[source])
    model = predictor.model
    predictor.adapter_meta = {
        "kind": "madx",
        "encoder": encoder,
        "source": source,
        "target": target,  # type: ignore[attr-defined]
        "language_adapters": {k: str(v) for k, v in language_adapters.items()},
        "active_language": source,
        "lora": dataclasses.asdict(lora),
        "train_config": dataclasses.asdict(cfg),
    }
    # source dev, scored with the source language adapter
    history, best, tokens = _train_task(predictor, train, dev, cfg, lora, "task adapter")
    swap_language(predictor, target)
    tr, tot = trainable_parameters(model)
    stats = {
        "n_train_sentences": len(tokens),
        "trainable_parameters": tr,
        "total_parameters": tot,
        "seconds": time.perf_counter() - t0,
    }
    predictor.adapter_meta.update({"best_epoch": best, "stats": stats})  # type: ignore[attr-defined]
    out = save_adapter_model(predictor, output_dir) if output_dir is not None else None
    return AdapterResult(predictor, history, best, out, stats)


__all__ = [
    "AdapterError",
    "AdapterResult",
    "LANG_SLOT",
    "AdapterConfig",
    "MLMConfig",
    "TASK_SLOT",
    "FFN_MODULES",
    "head_modules",
    "heldout_mlm_loss",
    "madx_language_lora",
    "load_adapter_model",
    "lora_config",
    "merge_adapter",
    "save_adapter_model",
    "swap_language",
    "target_modules_for",
    "train_language_adapter",
    "train_lora_ner",
    "train_madx",
    "trainable_parameters",
]
