"""Word aligners behind one interface, and symmetrisation.

**How alignments are indexed and symmetrised (the one place this is said).** An alignment of one sentence
pair is a ``frozenset`` of ``(i, j)`` pairs: ``i`` is the 0-based index of a word in the *source* token
list and ``j`` the 0-based index of a word in the *target* token list ("Pharaoh" ``i-j`` order, source
first). Every :class:`Aligner` returns one such set per sentence pair, already symmetric in the sense that
it is meant to be used as is by the projection methods:

* :class:`EflomalAligner` runs eflomal in both directions (its forward and reverse links are both written
  source-first) and combines them with :func:`symmetrise` — ``"grow-diag-final-and"`` by default (Koehn et
  al. 2005), or ``"intersection"``, ``"union"``, ``"grow-diag"``, ``"grow-diag-final"``;
* :class:`EmbeddingAligner` (SimAlign's method, any encoder) aligns from a word-by-word cosine similarity
  matrix. ``"argmax"`` keeps a pair when each word is the other's best match (the intersection of the two
  directional argmaxes, hence symmetric by construction); ``"itermax"`` repeats argmax over words still
  unaligned (SimAlign); ``"softmax"`` is awesome-align's extraction (row-softmax and column-softmax both
  above a threshold), again symmetric by construction;
* :class:`CombinedAligner` takes the union, intersection or a vote of several aligners' sets.

Sentence pairs are given as two equally long lists of token lists; empty sentences are refused.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
import sqlite3
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from xner.config import cache_dir
from xner.modeling.encoders.e5 import e5_checkpoint

logger = logging.getLogger(__name__)

Alignment = frozenset[tuple[int, int]]
Tokens = Sequence[str]

SYMMETRISATIONS = ("intersection", "union", "grow-diag", "grow-diag-final", "grow-diag-final-and")


class AlignerNotInstalledError(ImportError):
    """An aligner's dependency is missing; the message says what to install."""


@runtime_checkable
class Aligner(Protocol):
    """Anything with a ``name`` and ``align(src, tgt) -> list[Alignment]`` (one set per sentence pair)."""

    name: str

    def align(self, src: Sequence[Tokens], tgt: Sequence[Tokens]) -> list[Alignment]:
        """Align each source sentence with the target sentence at the same position."""
        ...


def check_parallel(src: Sequence[Tokens], tgt: Sequence[Tokens], *, what: str = "corpus") -> None:
    """Raise ``ValueError`` unless ``src`` and ``tgt`` have the same number of non-empty sentences."""
    if len(src) != len(tgt):
        raise ValueError(
            f"{what}: {len(src)} source sentences but {len(tgt)} target sentences; "
            "parallel text must be line-aligned (sentence i of the source translates sentence i of the target)"
        )
    for k, (s, t) in enumerate(zip(src, tgt, strict=True)):
        if isinstance(s, str) or isinstance(t, str):
            raise TypeError(f"{what}: sentence {k} is a string; give token lists (list[list[str]])")
        if len(s) == 0 or len(t) == 0:
            side = "source" if len(s) == 0 else "target"
            raise ValueError(f"{what}: sentence {k} is empty on the {side} side; remove or fill it before aligning")


# ----------------------------------------------------------------------------------------------------------
# symmetrisation


_NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


def symmetrise(fwd: set[tuple[int, int]], rev: set[tuple[int, int]], method: str = "grow-diag-final-and") -> Alignment:
    """Combine two directional alignments (both given source-first) by a standard heuristic.

    ``intersection`` and ``union`` are the set operations; ``grow-diag`` starts from the intersection and
    adds union points that neighbour (also diagonally) an aligned point and align a word not yet aligned on
    one side, until nothing changes; ``-final`` then adds remaining directional points whose source *or*
    target word is unaligned, ``-final-and`` only those whose source *and* target words are unaligned.
    """
    if method not in SYMMETRISATIONS:
        raise ValueError(f"unknown symmetrisation {method!r}; expected one of {SYMMETRISATIONS}")
    inter, union = fwd & rev, fwd | rev
    if method == "intersection":
        return frozenset(inter)
    if method == "union":
        return frozenset(union)
    points = set(inter)
    src_aligned = {i for i, _ in points}
    tgt_aligned = {j for _, j in points}

    def add(p: tuple[int, int]) -> None:
        points.add(p)
        src_aligned.add(p[0])
        tgt_aligned.add(p[1])

    changed = True
    while changed:
        changed = False
        for i, j in sorted(points):
            for di, dj in _NEIGHBOURS:
                q = (i + di, j + dj)
                if q in union and q not in points and (q[0] not in src_aligned or q[1] not in tgt_aligned):
                    add(q)
                    changed = True
    if method == "grow-diag":
        return frozenset(points)
    need_both = method == "grow-diag-final-and"
    for direction in (fwd, rev):
        for q in sorted(direction):
            if q in points:
                continue
            free_src, free_tgt = q[0] not in src_aligned, q[1] not in tgt_aligned
            if (free_src and free_tgt) if need_both else (free_src or free_tgt):
                add(q)
    return frozenset(points)


# ----------------------------------------------------------------------------------------------------------
# eflomal


def _parse_links(path: Path, n: int) -> list[set[tuple[int, int]]]:
    lines = path.read_text(encoding="utf-8").split("\n")
    out: list[set[tuple[int, int]]] = []
    for k in range(n):
        line = lines[k].strip() if k < len(lines) else ""
        pairs = set()
        for tok in line.split():
            a, b = tok.split("-")
            pairs.add((int(a), int(b)))
        out.append(pairs)
    return out


def _eflomal_line(tokens: Tokens) -> str:
    # eflomal reads whitespace-separated tokens; a token holding whitespace would shift every index after it
    return " ".join(re.sub(r"\s+", "_", t) or "_" for t in tokens)


@dataclass
class EflomalAligner:
    """eflomal (Östling & Tiedemann 2016) fitted on the corpus at hand plus any extra parallel text.

    ``extra`` is more line-aligned parallel text (source and target token lists) that only helps fit the
    model: alignments are returned for the corpus at hand only. eflomal draws its random seed from the
    operating system and cannot be seeded, so repeated runs differ slightly; ``n_samplers`` independent
    samplers are averaged to reduce that variance. ``prefix_len``/``suffix_len`` truncate (lower-cased)
    words before fitting, a crude stemmer that helps with inflection.
    """

    symmetrisation: str = "grow-diag-final-and"
    extra_src: Sequence[Tokens] = field(default_factory=list)
    extra_tgt: Sequence[Tokens] = field(default_factory=list)
    model: int = 3
    n_samplers: int = 3
    rel_iterations: float = 1.0
    null_prior: float = 0.2
    prefix_len: int = 0
    suffix_len: int = 0
    name: str = "eflomal"

    def __post_init__(self) -> None:
        if self.symmetrisation not in SYMMETRISATIONS:
            raise ValueError(f"unknown symmetrisation {self.symmetrisation!r}; expected one of {SYMMETRISATIONS}")
        check_parallel(self.extra_src, self.extra_tgt, what="extra parallel text")

    def align_directional(
        self, src: Sequence[Tokens], tgt: Sequence[Tokens]
    ) -> tuple[list[set[tuple[int, int]]], list[set[tuple[int, int]]]]:
        """Return the forward and reverse links (both source-first) for each sentence pair of the corpus."""
        check_parallel(src, tgt)
        if importlib.util.find_spec("eflomal") is None:
            raise AlignerNotInstalledError("the eflomal aligner needs the PyPI package eflomal: pip install eflomal")
        import eflomal

        src_lines = [_eflomal_line(s) for s in [*src, *self.extra_src]]
        tgt_lines = [_eflomal_line(t) for t in [*tgt, *self.extra_tgt]]
        aligner = eflomal.Aligner(
            model=self.model,
            n_samplers=self.n_samplers,
            rel_iterations=self.rel_iterations,
            null_prior=self.null_prior,
            source_prefix_len=self.prefix_len,
            source_suffix_len=self.suffix_len,
            target_prefix_len=self.prefix_len,
            target_suffix_len=self.suffix_len,
        )
        with tempfile.TemporaryDirectory(prefix="xner-eflomal-") as tmp:
            fwd_path, rev_path = Path(tmp) / "fwd", Path(tmp) / "rev"
            aligner.align(
                [line + "\n" for line in src_lines],
                [line + "\n" for line in tgt_lines],
                links_filename_fwd=str(fwd_path),
                links_filename_rev=str(rev_path),
                quiet=True,
            )
            return _parse_links(fwd_path, len(src)), _parse_links(rev_path, len(src))

    def align(self, src: Sequence[Tokens], tgt: Sequence[Tokens]) -> list[Alignment]:
        """Fit eflomal on the corpus (+ extra text) and return symmetrised alignments for the corpus."""
        fwd, rev = self.align_directional(src, tgt)
        return [symmetrise(f, r, self.symmetrisation) for f, r in zip(fwd, rev, strict=True)]


# ----------------------------------------------------------------------------------------------------------
# alignment extraction from a similarity matrix


def argmax_alignment(sim: np.ndarray) -> np.ndarray:
    """Boolean matrix of pairs that are each other's best match (row argmax and column argmax)."""
    m, n = sim.shape
    out = np.zeros((m, n), dtype=bool)
    if m == 0 or n == 0:
        return out
    fwd = sim.argmax(axis=1)
    bwd = sim.argmax(axis=0)
    rows = np.arange(m)
    mutual = bwd[fwd] == rows
    out[rows[mutual], fwd[mutual]] = True
    return out


def itermax_alignment(sim: np.ndarray, *, max_iter: int = 2, alpha: float = 0.9) -> np.ndarray:
    """SimAlign's IterMax: argmax, then argmax again over pairs with at least one word still unaligned.

    In each further round a pair whose two words are both unaligned keeps its similarity, a pair with one
    word aligned is damped by ``alpha``, a pair with both aligned is excluded; the mutual-best pairs of that
    reweighted matrix are added. Stops after ``max_iter`` rounds or when nothing is added. Sentences of at
    most two words on either side get plain argmax, as in SimAlign. The damping is a product, so it only means
    what SimAlign means on non-negative similarities: SimAlign rescales cosine to ``(cos + 1) / 2`` first
    (:class:`EmbeddingAligner` does the same), and a negative entry here is an error.
    """
    if sim.size and float(sim.min()) < 0.0:
        raise ValueError(
            f"IterMax needs non-negative similarities (min {float(sim.min()):.3g}); rescale cosine to (cos + 1) / 2 "
            "as SimAlign does"
        )
    out = argmax_alignment(sim)
    m, n = sim.shape
    if min(m, n) <= 2:
        return out
    for _ in range(max_iter - 1):
        free_row = ~out.any(axis=1)
        free_col = ~out.any(axis=0)
        if not free_row.any() or not free_col.any():
            break
        weight = np.minimum(alpha * (free_row[:, None].astype(float) + free_col[None, :]), 1.0)
        allowed = free_row[:, None] | free_col[None, :]
        masked = np.where(allowed, sim * weight, 0.0)
        new = argmax_alignment(masked) & allowed
        if not (new & ~out).any():
            break
        out |= new
    return out


def softmax_alignment(scores: np.ndarray, *, threshold: float = 1e-3) -> np.ndarray:
    """awesome-align's extraction: keep pairs whose row-softmax and column-softmax both exceed ``threshold``."""

    def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
        z = x - x.max(axis=axis, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=axis, keepdims=True)

    return (_softmax(scores, 1) > threshold) & (_softmax(scores, 0) > threshold)


def apply_distortion(sim: np.ndarray, ratio: float) -> np.ndarray:
    """SimAlign's distortion correction: scale similarities by ``1 - ratio * (i/(m-1) - j/(n-1))^2``; a sentence
    of one word on either side is left as is (as SimAlign)."""
    m, n = sim.shape
    if ratio == 0.0 or m < 2 or n < 2:
        return sim
    pi = np.linspace(0.0, 1.0, m)[:, None]
    pj = np.linspace(0.0, 1.0, n)[None, :]
    return sim * (1.0 - ratio * (pi - pj) ** 2)


EXTRACTIONS = ("argmax", "itermax", "softmax")


def extract(sim: np.ndarray, method: str, *, threshold: float = 1e-3, max_iter: int = 2) -> Alignment:
    """Turn a similarity matrix (source words x target words) into an alignment set."""
    if method == "argmax":
        mat = argmax_alignment(sim)
    elif method == "itermax":
        mat = itermax_alignment(sim, max_iter=max_iter)
    elif method == "softmax":
        mat = softmax_alignment(sim, threshold=threshold)
    else:
        raise ValueError(f"unknown extraction {method!r}; expected one of {EXTRACTIONS}")
    rows, cols = np.nonzero(mat)
    return frozenset(zip(rows.tolist(), cols.tolist(), strict=True))


# ----------------------------------------------------------------------------------------------------------
# embedding aligner (SimAlign's method with any encoder)


def _need_transformers(what: str) -> None:
    if importlib.util.find_spec("transformers") is None or importlib.util.find_spec("torch") is None:
        raise AlignerNotInstalledError(f"{what} needs transformers and torch: pip install transformers torch")


@dataclass
class EmbeddingAligner:
    """SimAlign-style aligner over contextual embeddings of any Hugging Face encoder checkpoint.

    Each sentence is encoded alone and the hidden states of ``layer`` (0 = embeddings) are read. With
    ``token_type="word"`` a word's subword pieces are averaged into one vector per word and words are aligned;
    with ``token_type="bpe"`` (SimAlign's default, and what the projection studies use) the pieces themselves are
    aligned and a word pair is linked when any of their pieces are. Similarities are cosine rescaled to
    ``(cos + 1) / 2`` as SimAlign's ``get_similarity`` does (``rescale=False`` keeps raw cosine, for argmax only:
    IterMax refuses negative entries), or dot products for ``extraction="softmax"`` (as awesome-align does);
    they then go through ``distortion`` and the extraction. Alignments are cached on disk
    (:class:`AlignmentCache`) unless ``cache=False``. With ``model="bert-base-multilingual-cased"``, ``layer=8``,
    ``token_type="bpe"`` this is SimAlign (Jalili Sabet et al. 2020; IterMax equals the ``simalign`` package's
    on the same matrix, see tests/test_projection_simalign.py); with ``extraction="softmax"`` it is
    awesome-align's extraction (Dou & Neubig 2021) without its fine-tuning. Offline, give the converted
    multilingual-e5-small (:func:`e5_aligner`).
    """

    model: str
    layer: int = 8
    extraction: str = "itermax"
    threshold: float = 1e-3
    distortion: float = 0.0
    max_iter: int = 2
    token_type: str = "word"
    rescale: bool = True
    batch_size: int = 32
    max_length: int = 512
    cache: bool = True
    name: str = ""
    _encoder: object = field(default=None, init=False, repr=False)
    _tokenizer: object = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.extraction not in EXTRACTIONS:
            raise ValueError(f"unknown extraction {self.extraction!r}; expected one of {EXTRACTIONS}")
        if self.token_type not in ("word", "bpe"):
            raise ValueError(f"token_type must be 'word' or 'bpe', got {self.token_type!r}")
        if not self.name:
            bpe = ":bpe" if self.token_type == "bpe" else ""
            self.name = f"embed:{Path(self.model).name}:L{self.layer}:{self.extraction}{bpe}"

    def _load(self) -> None:
        if self._encoder is not None:
            return
        _need_transformers(f"the embedding aligner ({self.model})")
        from transformers import AutoModel, AutoTokenizer

        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.model, use_fast=True)
            self._encoder = AutoModel.from_pretrained(self.model)
        except OSError as err:
            raise OSError(
                f"cannot load encoder {self.model!r}: it needs the Hugging Face hub or a local checkpoint folder. "
                "Offline, use the converted multilingual-e5-small (xner.projection.align.e5_aligner())."
            ) from err
        if not getattr(self._tokenizer, "is_fast", False):
            raise ValueError(f"{self.model!r} has no fast tokenizer; word_ids() is needed to pool subwords to words")
        self._encoder.eval()
        n_layers = self._encoder.config.num_hidden_layers
        if not 0 <= self.layer <= n_layers:
            raise ValueError(f"layer {self.layer} outside 0..{n_layers} for {self.model!r}")
        # layers above the one read are never used: drop them (a third of e5-small's time at layer 8)
        stack = getattr(getattr(self._encoder, "encoder", None), "layer", None)
        if stack is not None and hasattr(stack, "__getitem__") and len(stack) == n_layers:
            self._encoder.encoder.layer = stack[: self.layer]

    def embed_pieces(self, sentences: Sequence[Tokens]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per sentence: the subword-piece vectors (pieces x hidden, layer ``layer``) and each piece's word index."""
        self._load()
        import torch

        order = sorted(range(len(sentences)), key=lambda k: len(sentences[k]))
        result: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = [list(sentences[k]) for k in idx]
            enc = self._tokenizer(
                batch,
                is_split_into_words=True,
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
            with torch.inference_mode():
                hidden = self._encoder(**enc, output_hidden_states=True).hidden_states[self.layer]
            hidden = hidden.float().numpy()
            for b, k in enumerate(idx):
                pos = [p for p, w in enumerate(enc.word_ids(b)) if w is not None]
                words = np.asarray([enc.word_ids(b)[p] for p in pos], dtype=np.int64)
                missing = sorted(set(range(len(sentences[k]))) - set(words.tolist()))
                if missing:
                    raise ValueError(
                        f"sentence {k}: words {missing} got no subword piece from {self.model!r} (truncated at "
                        f"max_length={self.max_length} or empty tokens)"
                    )
                result[k] = (hidden[b, pos], words)
        return [result[k] for k in range(len(sentences))]

    def embed(self, sentences: Sequence[Tokens]) -> list[np.ndarray]:
        """Word vectors (words x hidden) of each sentence: layer ``layer``, subword pieces averaged."""
        out = []
        for (vecs, words), sent in zip(self.embed_pieces(sentences), sentences, strict=True):
            total = np.zeros((len(sent), vecs.shape[1]), dtype=np.float64)
            np.add.at(total, words, vecs)
            out.append((total / np.bincount(words, minlength=len(sent))[:, None]).astype(np.float32))
        return out

    def similarity(self, src_vec: np.ndarray, tgt_vec: np.ndarray) -> np.ndarray:
        """Source x target similarity matrix: cosine, or dot product for the softmax extraction."""
        if self.extraction == "softmax":
            sim = src_vec @ tgt_vec.T
        else:
            a = src_vec / np.maximum(np.linalg.norm(src_vec, axis=1, keepdims=True), 1e-12)
            b = tgt_vec / np.maximum(np.linalg.norm(tgt_vec, axis=1, keepdims=True), 1e-12)
            sim = a @ b.T
            if self.rescale:
                sim = (sim + 1.0) / 2.0  # SimAlign's get_similarity
        return apply_distortion(sim, self.distortion)

    def similarities(self, src: Sequence[Tokens], tgt: Sequence[Tokens]) -> list[np.ndarray]:
        """Similarity matrices of each sentence pair (words x words; pieces x pieces with ``token_type="bpe"``)."""
        check_parallel(src, tgt)
        if self.token_type == "bpe":
            sp, tp = self.embed_pieces(src), self.embed_pieces(tgt)
            return [self.similarity(a[0], b[0]) for a, b in zip(sp, tp, strict=True)]
        sv, tv = self.embed(src), self.embed(tgt)
        return [self.similarity(a, b) for a, b in zip(sv, tv, strict=True)]

    def _align_uncached(self, src: Sequence[Tokens], tgt: Sequence[Tokens]) -> list[Alignment]:
        """Extract alignments; with ``token_type="bpe"`` map piece links to word links (SimAlign's b2w map)."""
        if self.token_type == "word":
            sims = self.similarities(src, tgt)
            return [extract(m, self.extraction, threshold=self.threshold, max_iter=self.max_iter) for m in sims]
        out = []
        for (sv, sw), (tv, tw) in zip(self.embed_pieces(src), self.embed_pieces(tgt), strict=True):
            links = extract(self.similarity(sv, tv), self.extraction, threshold=self.threshold, max_iter=self.max_iter)
            out.append(frozenset((int(sw[i]), int(tw[j])) for i, j in links))
        return out

    @property
    def key(self) -> str:
        """Cache key: the checkpoint (with its files' sizes and times when local) and every setting."""
        path = Path(self.model)
        stamp = ""
        if path.is_dir():
            stamp = ",".join(
                f"{f.name}:{f.stat().st_size}:{int(f.stat().st_mtime)}" for f in sorted(path.iterdir()) if f.is_file()
            )
        return (
            f"embed|{self.model}|{stamp}|L{self.layer}|{self.extraction}|t{self.threshold}|d{self.distortion}"
            f"|i{self.max_iter}|m{self.max_length}|{self.token_type}|r{int(self.rescale)}"
        )

    def align(self, src: Sequence[Tokens], tgt: Sequence[Tokens]) -> list[Alignment]:
        """Align each sentence pair from its embedding similarity matrix (cached on disk when ``cache``)."""
        check_parallel(src, tgt)
        store = AlignmentCache() if self.cache else None
        found = store.get(self.key, src, tgt) if store else {}
        todo = [k for k in range(len(src)) if k not in found]
        if todo:
            s_todo, t_todo = [src[k] for k in todo], [tgt[k] for k in todo]
            new = dict(zip(todo, self._align_uncached(s_todo, t_todo), strict=True))
            if store:
                store.put(self.key, [src[k] for k in todo], [tgt[k] for k in todo], [new[k] for k in todo])
            found.update(new)
        return [found[k] for k in range(len(src))]


class AlignmentCache:
    """Alignments of deterministic aligners on disk (sqlite), keyed by aligner settings and sentence pair."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else cache_dir() / "alignments.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(self.path, timeout=60) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS alignments (aligner TEXT, pair TEXT, links TEXT, PRIMARY KEY "
                "(aligner, pair))"
            )

    @staticmethod
    def _pair_key(s: Tokens, t: Tokens) -> str:
        return hashlib.sha1(("\x1f".join(s) + "\x1e" + "\x1f".join(t)).encode("utf-8")).hexdigest()

    def get(self, aligner: str, src: Sequence[Tokens], tgt: Sequence[Tokens]) -> dict[int, Alignment]:
        """Cached alignments by sentence index."""
        keys = [self._pair_key(s, t) for s, t in zip(src, tgt, strict=True)]
        rows: dict[str, str] = {}
        with sqlite3.connect(self.path, timeout=60) as db:
            uniq = list(dict.fromkeys(keys))
            for start in range(0, len(uniq), 500):
                chunk = uniq[start : start + 500]
                rows.update(
                    db.execute(
                        "SELECT pair, links FROM alignments WHERE aligner=? AND pair IN "
                        f"({','.join('?' * len(chunk))})",
                        [aligner, *chunk],
                    ).fetchall()
                )
        out = {}
        for k, key in enumerate(keys):
            if key in rows:
                out[k] = frozenset(tuple(map(int, p.split("-"))) for p in rows[key].split())
        return out

    def put(self, aligner: str, src: Sequence[Tokens], tgt: Sequence[Tokens], alignments: Sequence[Alignment]) -> None:
        """Store alignments of sentence pairs."""
        with sqlite3.connect(self.path, timeout=60) as db:
            db.executemany(
                "INSERT OR REPLACE INTO alignments VALUES (?, ?, ?)",
                [
                    (aligner, self._pair_key(s, t), " ".join(f"{i}-{j}" for i, j in sorted(a)))
                    for s, t, a in zip(src, tgt, alignments, strict=True)
                ],
            )


def simalign_aligner(model: str = "bert-base-multilingual-cased", extraction: str = "itermax") -> EmbeddingAligner:
    """SimAlign with mBERT (layer 8, IterMax by default). Needs the Hugging Face hub (or a local copy)."""
    return EmbeddingAligner(model=model, layer=8, extraction=extraction, name=f"simalign-{extraction}")


def awesome_aligner(model: str = "bert-base-multilingual-cased", threshold: float = 1e-3) -> EmbeddingAligner:
    """awesome-align's extraction (layer 8, softmax threshold 1e-3) over mBERT; for the fine-tuned model pass
    ``model="aneuraz/awesome-align-with-co"``. Needs the Hugging Face hub (or a local copy)."""
    return EmbeddingAligner(model=model, layer=8, extraction="softmax", threshold=threshold, name="awesome-align")


def e5_aligner(
    layer: int = 8, extraction: str = "itermax", distortion: float = 0.0, token_type: str = "word"
) -> EmbeddingAligner:
    """The embedding aligner over the offline multilingual-e5-small checkpoint (converted once by xner);
    ``token_type="bpe"`` aligns subword pieces as SimAlign does by default."""
    return EmbeddingAligner(
        model=str(e5_checkpoint()),
        layer=layer,
        extraction=extraction,
        distortion=distortion,
        token_type=token_type,
        name=f"e5-small:L{layer}:{extraction}" + (":bpe" if token_type == "bpe" else ""),
    )


# ----------------------------------------------------------------------------------------------------------
# string similarity (names kept across languages; same-language alignment)


def normalise(word: str) -> str:
    """Lower-case and strip diacritics, for comparing words across languages."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def string_similarity(a: str, b: str) -> float:
    """Normalised Indel similarity in [0, 1] of two strings after :func:`normalise` (rapidfuzz ratio)."""
    from rapidfuzz.fuzz import ratio

    return ratio(normalise(a), normalise(b)) / 100.0


def string_similarity_matrix(src: Tokens, tgt: Tokens) -> np.ndarray:
    """Source x target matrix of :func:`string_similarity` between words."""
    from rapidfuzz.distance import Indel
    from rapidfuzz.process import cdist

    return cdist([normalise(w) for w in src], [normalise(w) for w in tgt], scorer=Indel.normalized_similarity)


@dataclass
class StringAligner:
    """Aligns words by surface similarity: for the same language (back-translation refinement) or for
    names, numbers and cognates kept across languages. Pairs below ``min_similarity`` never align;
    ``distortion`` prefers pairs at similar relative positions (breaks ties between repeated words)."""

    min_similarity: float = 0.8
    extraction: str = "itermax"
    distortion: float = 0.3
    name: str = "string"

    def align(self, src: Sequence[Tokens], tgt: Sequence[Tokens]) -> list[Alignment]:
        """Align each sentence pair by string similarity of its words."""
        check_parallel(src, tgt)
        out = []
        for s, t in zip(src, tgt, strict=True):
            sim = string_similarity_matrix(s, t)
            keep = sim >= self.min_similarity
            links = extract(apply_distortion(np.where(keep, sim, 0.0), self.distortion), self.extraction)
            out.append(frozenset(p for p in links if keep[p]))
        return out


# ----------------------------------------------------------------------------------------------------------
# combining aligners


@dataclass
class CombinedAligner:
    """Union, intersection or a ``min_votes`` vote over the alignments of several aligners."""

    aligners: Sequence[Aligner]
    mode: str = "union"
    min_votes: int = 2
    name: str = ""

    def __post_init__(self) -> None:
        if self.mode not in ("union", "intersection", "vote"):
            raise ValueError(f"unknown combination {self.mode!r}; expected 'union', 'intersection' or 'vote'")
        if not self.aligners:
            raise ValueError("CombinedAligner needs at least one aligner")
        if not self.name:
            self.name = f"{self.mode}(" + "+".join(a.name for a in self.aligners) + ")"

    def align(self, src: Sequence[Tokens], tgt: Sequence[Tokens]) -> list[Alignment]:
        """Run every aligner and combine their sets sentence by sentence."""
        check_parallel(src, tgt)
        runs = [a.align(src, tgt) for a in self.aligners]
        return combine(runs, self.mode, self.min_votes)


def combine(runs: Sequence[Sequence[Alignment]], mode: str = "union", min_votes: int = 2) -> list[Alignment]:
    """Combine per-sentence alignment lists from several aligners (``union``, ``intersection``, ``vote``)."""
    out = []
    for sets in zip(*runs, strict=True):
        if mode == "union":
            out.append(frozenset().union(*sets))
        elif mode == "intersection":
            out.append(frozenset.intersection(*map(frozenset, sets)))
        elif mode == "vote":
            counts: dict[tuple[int, int], int] = {}
            for s in sets:
                for p in s:
                    counts[p] = counts.get(p, 0) + 1
            out.append(frozenset(p for p, c in counts.items() if c >= min_votes))
        else:
            raise ValueError(f"unknown combination {mode!r}")
    return out


@dataclass
class PrecomputedAligner:
    """Returns alignments computed elsewhere (e.g. read from a Pharaoh file), checked against the corpus."""

    alignments: Sequence[Alignment]
    name: str = "precomputed"

    def align(self, src: Sequence[Tokens], tgt: Sequence[Tokens]) -> list[Alignment]:
        """Return the stored alignments after checking they fit the corpus."""
        check_parallel(src, tgt)
        if len(self.alignments) != len(src):
            raise ValueError(f"{len(self.alignments)} stored alignments for {len(src)} sentence pairs")
        for k, (a, s, t) in enumerate(zip(self.alignments, src, tgt, strict=True)):
            for i, j in a:
                if not (0 <= i < len(s) and 0 <= j < len(t)):
                    raise ValueError(f"sentence {k}: stored pair ({i}, {j}) outside {len(s)} x {len(t)} words")
        return list(self.alignments)


def read_pharaoh(path: str | Path) -> list[Alignment]:
    """Read a Pharaoh alignment file (one line per sentence, ``i-j`` pairs, source first, 0-based)."""
    out = []
    for ln, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        pairs = set()
        for tok in line.split():
            m = re.fullmatch(r"(\d+)-(\d+)", tok)
            if m is None:
                raise ValueError(f"{path}:{ln}: expected 'i-j' pairs, got {tok!r}")
            pairs.add((int(m.group(1)), int(m.group(2))))
        out.append(frozenset(pairs))
    return out


def write_pharaoh(alignments: Sequence[Alignment], path: str | Path) -> Path:
    """Write alignments as a Pharaoh file (sorted ``i-j`` pairs, one sentence per line)."""
    path = Path(path)
    path.write_text("".join(" ".join(f"{i}-{j}" for i, j in sorted(a)) + "\n" for a in alignments), encoding="utf-8")
    return path


ALIGNERS: dict[str, Callable[..., Aligner]] = {
    "eflomal": EflomalAligner,
    "e5": e5_aligner,
    "simalign": simalign_aligner,
    "awesome": awesome_aligner,
    "string": StringAligner,
}


def get_aligner(name: str, **kwargs: object) -> Aligner:
    """Build an aligner by name: ``eflomal``, ``e5``, ``simalign``, ``awesome``, ``string``."""
    if name not in ALIGNERS:
        raise ValueError(f"unknown aligner {name!r}; expected one of {sorted(ALIGNERS)}")
    return ALIGNERS[name](**kwargs)
