"""The offline mini multilingual encoder: a Unigram tokenizer and a small BERT pretrained with masked
language modelling on the unlabelled text of the chosen languages, at several named sizes.

It answers two questions without the hub: how results scale with encoder size (``mini-tiny`` →
``mini-small`` → ``mini-base``), and what pretraining brings at all (compare with the CRF and with
``pretrain_epochs=0``). The text is the *tokens* of the WikiANN train splits of the languages (no labels are
read). The result is a standard checkpoint (``BertForMaskedLM`` + ``tokenizer.json``) that every other part of
xner loads like any Hugging Face model.

Pretraining is cached under ``xner.config.cache_dir()/models/mini/``: the same languages, size, seed and
settings (and the same text) reuse the saved model. A model is written to a temporary folder and renamed into
place when complete, so an interrupted run never leaves a half-written model behind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xner import config as xconfig
from xner.data import load_split
from xner.modeling.encoders.mlm import mlm_sequences, train_mlm
from xner.utils import coerce_fields, default_threads, set_seed, text_digest

log = logging.getLogger(__name__)

PREFIX = "mini-"
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


class MiniEncoderError(ValueError):
    """A mini-encoder request cannot be served (unknown size, no languages, no text)."""


@dataclass(frozen=True)
class MiniSize:
    """Architecture and pretraining budget of one named size."""

    layers: int
    hidden: int
    heads: int
    intermediate: int
    epochs: int
    learning_rate: float


# The three named sizes (parameters with the default 8,000-piece vocabulary: ~1.4M, ~5.3M, ~14M).
SIZES: dict[str, MiniSize] = {
    "tiny": MiniSize(layers=2, hidden=128, heads=2, intermediate=512, epochs=20, learning_rate=1e-3),
    "small": MiniSize(layers=4, hidden=256, heads=4, intermediate=1024, epochs=15, learning_rate=5e-4),
    "base": MiniSize(layers=6, hidden=384, heads=6, intermediate=1536, epochs=12, learning_rate=3e-4),
}


def _help(text: str, **kw: Any) -> Any:
    return field(metadata={"help": text}, **kw)


@dataclass
class MiniConfig:
    """How to build a mini encoder (tokenizer + masked-language-model pretraining)."""

    size: str = _help(
        "Named size: " + ", ".join(SIZES) + " (layers/width/heads/epochs in mini.SIZES).", default="small"
    )
    vocab_size: int = _help(
        "Unigram vocabulary size (the same for every size, so size is the only change).", default=8000
    )
    min_frequency: int = _help("Words seen fewer times are left out of the tokenizer's training text.", default=1)
    lowercase: bool = _help("Lowercase the text (off: case is a strong NER cue in cased scripts).", default=False)
    max_length: int = _help(
        "Maximum sub-words per sequence, special tokens included (= position embeddings).", default=128
    )
    epochs: int | None = _help("Pretraining passes over the text (None: the size's default).", default=None)
    batch_size: int = _help("Sequences per optimisation step.", default=64)
    learning_rate: float | None = _help("Peak AdamW learning rate (None: the size's default).", default=None)
    warmup_ratio: float = _help("Share of steps for linear warm-up.", default=0.06)
    weight_decay: float = _help("AdamW weight decay.", default=0.01)
    mlm_probability: float = _help("Share of words masked per sequence (at least one word per sequence).", default=0.15)
    whole_word_masking: bool = _help(
        "Mask all pieces of a chosen word (else pieces are chosen independently).", default=True
    )
    dropout: float = _help("Hidden and attention dropout of the encoder.", default=0.1)
    seed: int = _help("Seed for tokenizer data order, initialisation, masking and shuffling.", default=0)
    dataset: str = _help("Dataset whose train-split tokens (never labels) are the pretraining text.", default="wikiann")
    num_threads: int | None = _help("torch CPU threads (default: the CPUs this process may use).", default=None)
    progress: bool = _help("Show tqdm progress bars.", default=True)

    def __post_init__(self) -> None:
        coerce_fields(self)
        if self.size not in SIZES:
            raise MiniEncoderError(f"unknown mini-encoder size {self.size!r}; known: {', '.join(SIZES)}")
        if not 0 < self.mlm_probability < 1:
            raise MiniEncoderError(f"mlm_probability must be in (0, 1), got {self.mlm_probability}")
        if self.vocab_size < len(SPECIALS) + 50:
            raise MiniEncoderError(f"vocab_size {self.vocab_size} is too small")

    @property
    def spec(self) -> MiniSize:
        """The architecture of this configuration's size."""
        return SIZES[self.size]

    def resolved(self) -> dict[str, Any]:
        """Every setting that shapes the model, with size defaults filled in (the cache key's content)."""
        d = dataclasses.asdict(self)
        for k in ("num_threads", "progress"):
            d.pop(k)
        d["epochs"] = self.epochs if self.epochs is not None else self.spec.epochs
        d["learning_rate"] = self.learning_rate if self.learning_rate is not None else self.spec.learning_rate
        d["architecture"] = dataclasses.asdict(self.spec)
        return d


def parse_name(name: str) -> str | None:
    """The size in ``mini-<size>`` (or None when ``name`` is not a mini-encoder name)."""
    if not name.startswith(PREFIX):
        return None
    size = name[len(PREFIX) :]
    if size not in SIZES:
        raise MiniEncoderError(f"unknown mini encoder {name!r}; known: {', '.join(PREFIX + s for s in SIZES)}")
    return size


# ---------------------------------------------------------------------------------------------- tokenizer


def train_tokenizer(
    sentences: Sequence[Sequence[str]],
    vocab_size: int = 8000,
    min_frequency: int = 1,
    lowercase: bool = False,
    max_length: int = 128,
) -> Any:
    """Train a Unigram (SentencePiece-style, as XLM-R's) tokenizer on word-tokenized sentences; return a fast
    Hugging Face tokenizer (``tokenizers`` Unigram model, ``▁`` word prefix, ``[CLS] … [SEP]``).

    The piece inventory and scores are estimated with the ``sentencepiece`` trainer (one thread), then run by
    ``tokenizers``. Why not ``tokenizers``' own trainers: their WordPiece/BPE and Unigram trainers iterate
    over hash maps with per-process random seeds, so the same text gives a different vocabulary (WordPiece)
    or slightly different scores (Unigram) on every run (huggingface/tokenizers#1794), which would make the
    pretrained encoder irreproducible. ``min_frequency`` drops words seen fewer times from the training text
    of the tokenizer (never from pretraining).
    """
    import io
    from collections import Counter

    import sentencepiece as spm
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    counts = Counter(w for s in sentences for w in s)
    lines = [" ".join(w for w in s if counts[w] >= min_frequency) for s in sentences]
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        raise MiniEncoderError(f"no words seen at least {min_frequency} times to train a tokenizer on")
    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=proto,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        num_threads=1,
        split_digits=False,
        byte_fallback=False,
        hard_vocab_limit=False,
        pad_id=0,
        pad_piece=SPECIALS[0],
        unk_id=1,
        unk_piece=SPECIALS[1],
        bos_id=-1,
        eos_id=-1,
        user_defined_symbols=list(SPECIALS[2:]),
        normalization_rule_name="nfkc_cf" if lowercase else "nfkc",
        add_dummy_prefix=True,
        shuffle_input_sentence=False,
        max_sentence_length=1 << 16,
        minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_proto=proto.getvalue())
    vocab = [
        (sp.id_to_piece(i), 0.0 if i < len(SPECIALS) else float(sp.get_score(i))) for i in range(sp.get_piece_size())
    ]
    if [p for p, _ in vocab[: len(SPECIALS)]] != list(SPECIALS):
        raise MiniEncoderError(f"unexpected special pieces {vocab[: len(SPECIALS)]}")
    tok = Tokenizer(models.Unigram(vocab, unk_id=1, byte_fallback=False))
    norm = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    norm.append(normalizers.Replace(" {2,}", " "))
    tok.normalizer = normalizers.Sequence(norm)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.add_special_tokens(list(SPECIALS))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )


# ---------------------------------------------------------------------------------------------- pretraining


def pretrain(sentences: Sequence[Sequence[str]], cfg: MiniConfig, out_dir: str | Path) -> Path:
    """Train the tokenizer and pretrain the encoder on ``sentences``; save a standard checkpoint in ``out_dir``.

    Writes ``config.json`` + weights (``BertForMaskedLM``), the tokenizer files and ``mini_encoder.json``
    (settings, text counts, loss per epoch, seconds).
    """
    from transformers import BertConfig, BertForMaskedLM

    sentences = [list(s) for s in sentences if len(s) > 0]
    if not sentences:
        raise MiniEncoderError("no text to pretrain on (all sentences empty)")
    res = cfg.resolved()
    set_seed(cfg.seed)
    torch.set_num_threads(cfg.num_threads or default_threads())
    t_start = time.perf_counter()
    tokenizer = train_tokenizer(sentences, cfg.vocab_size, cfg.min_frequency, cfg.lowercase, cfg.max_length)
    vocab = len(tokenizer)
    seqs = mlm_sequences(tokenizer, sentences, cfg.max_length)
    spec = cfg.spec
    mcfg = BertConfig(
        vocab_size=vocab,
        hidden_size=spec.hidden,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        intermediate_size=spec.intermediate,
        max_position_embeddings=cfg.max_length,
        type_vocab_size=2,
        pad_token_id=tokenizer.pad_token_id,
        hidden_dropout_prob=cfg.dropout,
        attention_probs_dropout_prob=cfg.dropout,
    )
    model = BertForMaskedLM(mcfg)
    epochs = int(res["epochs"])
    rng = np.random.default_rng(cfg.seed)
    history: list[dict[str, float]] = []
    if epochs > 0:
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "norm" not in n.lower()]
        no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "norm" not in n.lower())]
        optim = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=float(res["learning_rate"]),
        )
        history = train_mlm(
            model.bert,
            model.cls,
            seqs,
            optim,
            epochs=epochs,
            batch_size=cfg.batch_size,
            rng=rng,
            mask_id=tokenizer.mask_token_id,
            pad_id=tokenizer.pad_token_id,
            vocab_size=vocab,
            n_special=len(SPECIALS),
            probability=cfg.mlm_probability,
            whole_word=cfg.whole_word_masking,
            warmup_ratio=cfg.warmup_ratio,
            clip=list(model.parameters()),
            desc=f"pretraining mini-{cfg.size}",
            progress=cfg.progress,
        )
    model.eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    seconds = time.perf_counter() - t_start
    meta = {
        "settings": res,
        "n_sentences": len(sentences),
        "n_words": sum(len(s) for s in sentences),
        "n_sequences": len(seqs),
        "vocab_size": vocab,
        "parameters": sum(p.numel() for p in model.bert.parameters()),
        "history": history,
        "seconds": seconds,
        "pretrain_tokens_per_s": sum(h["tokens"] for h in history) / sum(h["seconds"] for h in history)
        if history
        else None,
    }
    (out / "mini_encoder.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out


def pretraining_text(languages: Sequence[str], dataset: str = "wikiann") -> list[list[str]]:
    """The unlabelled pretraining text: the tokens of each language's train split (labels are not read)."""
    out: list[list[str]] = []
    for lang in languages:
        ds = load_split(lang, "train", dataset)
        out += [list(t) for t in ds["tokens"]]
    return out


def cache_root() -> Path:
    """Where pretrained mini encoders are kept: ``cache_dir()/models/mini``."""
    return xconfig.cache_dir() / "models" / "mini"


def mini_encoder(
    languages: Sequence[str],
    size: str = "small",
    seed: int = 0,
    *,
    config: MiniConfig | None = None,
    text: Sequence[Sequence[str]] | None = None,
) -> Path:
    """Return the folder of a pretrained mini encoder for ``languages``, pretraining it once if not cached.

    The cache key covers the sorted languages, every setting (size, seed, vocabulary, epochs …) and a digest of
    the text, so a change of any of them pretrains anew while a repeat call is free. ``text`` replaces the
    languages' WikiANN train tokens (tests, other corpora).
    """
    if not languages:
        raise MiniEncoderError(
            "a mini encoder needs the languages of its pretraining text, e.g. languages=['id', 'ms']"
        )
    cfg = dataclasses.replace(config, size=size, seed=seed) if config is not None else MiniConfig(size=size, seed=seed)
    langs = sorted(set(languages))
    sentences = [list(s) for s in text] if text is not None else pretraining_text(langs, cfg.dataset)
    key_src = json.dumps(
        {"languages": langs, "settings": cfg.resolved(), "text": text_digest(sentences)}, sort_keys=True
    )
    key = hashlib.sha256(key_src.encode("utf-8")).hexdigest()[:12]
    final = cache_root() / f"mini-{cfg.size}-{'+'.join(langs)}-seed{seed}-{key}"
    if (final / "mini_encoder.json").is_file():
        log.info("mini encoder from the cache: %s", final)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=final.name + ".tmp-", dir=final.parent))
    try:
        log.info("pretraining mini-%s on %s (%d sentences) → %s", cfg.size, "+".join(langs), len(sentences), final)
        pretrain(sentences, cfg, tmp)
        meta_path = tmp / "mini_encoder.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["languages"] = langs
        meta["cache_key"] = key
        meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "mini_encoder.json").is_file():  # not a concurrent twin: a real failure
                raise
            log.info("another process finished %s first; using it", final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


__all__ = [
    "MiniConfig",
    "MiniEncoderError",
    "MiniSize",
    "SIZES",
    "cache_root",
    "mini_encoder",
    "parse_name",
    "pretrain",
    "pretraining_text",
    "train_tokenizer",
]
