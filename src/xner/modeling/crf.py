"""The classic baseline: a linear-chain CRF over hand-made word features (sklearn-crfsuite), so that every
table has a non-neural row.

Features of each word (all from the word and its neighbours, language-independent): the lowercased word, its
prefixes and suffixes (1–4 characters), its shape (``Xxxx``, ``dd.dd``; letters of uncased scripts become
``a``) and short shape (repeats collapsed), case flags, digits/hyphen/punctuation flags, a length bucket, the
position in the sentence, and the same word/shape/suffix features of the words up to ``window`` positions to
the left and right, plus the word bigrams around it. The CRF exposes the same ``predict(tokens)`` as the
neural models and is trained by the same settings runner (:mod:`xner.modeling.transfer`).
"""

from __future__ import annotations

import dataclasses
import json
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xner.data import label_set_of, tag_names
from xner.modeling.config import coerce_fields
from xner.modeling.train import TrainingDataError, check_same_labels
from xner.utils import cap


def _help(text: str, **kw: Any) -> Any:
    return field(metadata={"help": text}, **kw)


@dataclass
class CRFConfig:
    """How to train the feature CRF."""

    c1: float = _help("L1 regularisation coefficient (L-BFGS with OWL-QN).", default=0.05)
    c2: float = _help("L2 regularisation coefficient.", default=0.05)
    max_iterations: int = _help("Maximum L-BFGS iterations.", default=150)
    window: int = _help("Context words on each side whose features are added.", default=2)
    max_affix: int = _help("Longest prefix/suffix feature (characters).", default=4)
    all_possible_transitions: bool = _help(
        "Learn weights for transitions unseen in training (e.g. O→I-X).", default=True
    )
    min_freq: int = _help("Drop features seen fewer times than this in training.", default=1)
    max_train_samples: int | None = _help("Use only the first N training sentences.", default=None)

    def __post_init__(self) -> None:
        coerce_fields(self)


def shape(word: str) -> str:
    """Word shape: ``X`` upper, ``x`` lower, ``a`` uncased letter, ``d`` digit, ``m`` combining mark, else itself."""
    out = []
    for ch in word:
        if ch.isdigit():
            out.append("d")
        elif ch.isalpha():
            out.append("X" if ch.isupper() else "x" if ch.islower() else "a")
        elif unicodedata.category(ch).startswith("M"):
            out.append("m")
        else:
            out.append(ch)
    return "".join(out)


def short_shape(word: str) -> str:
    """Shape with runs of the same class collapsed (``Xxxxx`` → ``Xx``)."""
    s = shape(word)
    return "".join(c for i, c in enumerate(s) if i == 0 or c != s[i - 1])


def _word_feats(w: str, max_affix: int) -> dict[str, Any]:
    low = w.lower()
    f: dict[str, Any] = {
        "w": low,
        "shape": shape(w)[:12],
        "sshape": short_shape(w),
        "title": w.istitle(),
        "upper": w.isupper(),
        "digit": any(c.isdigit() for c in w),
        "alldigit": w.isdigit(),
        "hyphen": "-" in w,
        "punct": all(unicodedata.category(c).startswith("P") for c in w),
        "len": min(len(w), 8),
    }
    for k in range(1, max_affix + 1):
        if len(low) >= k:
            f[f"p{k}"] = low[:k]
            f[f"s{k}"] = low[-k:]
    return f


def sentence_features(tokens: Sequence[str], window: int = 2, max_affix: int = 4) -> list[dict[str, Any]]:
    """The feature dict of every word of a sentence (see the module docstring)."""
    n = len(tokens)
    own = [_word_feats(t, max_affix) for t in tokens]
    feats: list[dict[str, Any]] = []
    for i in range(n):
        f: dict[str, Any] = {"bias": 1.0, **own[i]}
        if i == 0:
            f["BOS"] = True
        if i == n - 1:
            f["EOS"] = True
        f["pos"] = min(i, 5)
        f["sent_len"] = min(n, 10)
        for d in range(1, window + 1):
            for sign, j in (("-", i - d), ("+", i + d)):
                key = f"{sign}{d}"
                if 0 <= j < n:
                    o = own[j]
                    f[f"{key}:w"] = o["w"]
                    f[f"{key}:sshape"] = o["sshape"]
                    f[f"{key}:title"] = o["title"]
                    if "s3" in o:
                        f[f"{key}:s3"] = o["s3"]
                else:
                    f[f"{key}:pad"] = True
        if i > 0:
            f["-1|0"] = own[i - 1]["w"] + "|" + own[i]["w"]
        if i < n - 1:
            f["0|+1"] = own[i]["w"] + "|" + own[i + 1]["w"]
        feats.append(f)
    return feats


class CRFTagger:
    """A feature CRF with the predictor interface ``predict(tokens) -> tags``."""

    def __init__(self, config: CRFConfig | None = None, labels: Sequence[str] | None = None) -> None:
        self.config = config or CRFConfig()
        self.labels = tuple(labels or ())
        self.crf: Any = None
        self.name = "crf"
        self.train_seconds: float | None = None

    def _feats(self, tokens: Sequence[Sequence[str]]) -> list[list[dict[str, Any]]]:
        return [sentence_features(t, self.config.window, self.config.max_affix) for t in tokens]

    def fit(
        self, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], model_file: str | Path | None = None
    ) -> CRFTagger:
        """Train on word-tokenized sentences and their IOB2 tags (empty sentences are skipped and counted)."""
        import sklearn_crfsuite

        pairs = [(list(t), list(g)) for t, g in zip(tokens, tags, strict=True) if len(t) > 0]
        self.skipped_empty = len(tokens) - len(pairs)
        if not pairs:
            raise TrainingDataError("the training split is empty: nothing to train the CRF on")
        for i, (t, g) in enumerate(pairs):
            if len(t) != len(g):
                raise TrainingDataError(f"sentence {i}: {len(t)} tokens but {len(g)} tags")
        c = self.config
        self.crf = sklearn_crfsuite.CRF(
            algorithm="lbfgs",
            c1=c.c1,
            c2=c.c2,
            max_iterations=c.max_iterations,
            all_possible_transitions=c.all_possible_transitions,
            min_freq=c.min_freq,
            model_filename=str(model_file) if model_file else None,
        )
        t0 = time.perf_counter()
        self.crf.fit(self._feats([p[0] for p in pairs]), [p[1] for p in pairs])
        self.train_seconds = time.perf_counter() - t0
        return self

    def predict(self, tokens: Sequence[Sequence[str]]) -> list[list[str]]:
        """IOB2 tags per word for each sentence (an empty sentence gives an empty list)."""
        if self.crf is None:
            raise RuntimeError("the CRF is not trained; call fit() or CRFTagger.load()")
        idx = [i for i, t in enumerate(tokens) if len(t) > 0]
        pred = self.crf.predict(self._feats([tokens[i] for i in idx])) if idx else []
        out: list[list[str]] = [[] for _ in tokens]
        for i, p in zip(idx, pred, strict=True):
            out[i] = list(p)
        return out

    __call__ = predict

    def save(self, path: str | Path) -> Path:
        """Save as ``model.crfsuite`` (the CRFsuite binary format) and ``crf_config.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        src = getattr(self.crf, "modelfile", None)
        name = getattr(src, "name", None) if src is not None else None
        if not name or not Path(name).is_file():
            raise RuntimeError("the CRF model file is not available; train with fit() first")
        (path / "model.crfsuite").write_bytes(Path(name).read_bytes())
        (path / "crf_config.json").write_text(
            json.dumps({"config": dataclasses.asdict(self.config), "labels": list(self.labels)}, indent=2) + "\n",
            encoding="utf-8",
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> CRFTagger:
        """Load a CRF saved by :meth:`save`."""
        import sklearn_crfsuite

        path = Path(path)
        meta = json.loads((path / "crf_config.json").read_text(encoding="utf-8"))
        tagger = cls(CRFConfig(**meta["config"]), meta.get("labels"))
        tagger.crf = sklearn_crfsuite.CRF(model_filename=str(path / "model.crfsuite"))
        return tagger


def train_crf(train: Any, dev: Any | None = None, config: CRFConfig | None = None) -> CRFTagger:
    """Train a :class:`CRFTagger` on a dataset (``dev`` is only checked for the same label set; the CRF has
    no early stopping)."""
    cfg = config or CRFConfig()
    if train is None or len(train) == 0:
        raise TrainingDataError("the training split is empty: nothing to train the CRF on")
    ls = label_set_of(train)
    if dev is not None and len(dev) > 0:
        check_same_labels(ls, label_set_of(dev), "dev split")
    train = cap(train, cfg.max_train_samples)
    tagger = CRFTagger(cfg, ls.labels)
    return tagger.fit([list(t) for t in train["tokens"]], tag_names(train))


__all__ = ["CRFConfig", "CRFTagger", "sentence_features", "shape", "short_shape", "train_crf"]
