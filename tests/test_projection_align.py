"""Aligners and symmetrisation: hand-built matrices, a synthetic parallel corpus for eflomal, and a tiny
local encoder checkpoint for the embedding aligner (any checkpoint works, no hub)."""

from __future__ import annotations

import numpy as np
import pytest

from xner.projection.align import (
    AlignerNotInstalledError,
    CombinedAligner,
    EflomalAligner,
    EmbeddingAligner,
    PrecomputedAligner,
    StringAligner,
    argmax_alignment,
    check_parallel,
    combine,
    extract,
    get_aligner,
    itermax_alignment,
    read_pharaoh,
    symmetrise,
    write_pharaoh,
)


def test_symmetrisation_heuristics_by_hand():
    fwd = {(0, 0), (1, 1), (2, 1)}
    rev = {(0, 0), (1, 1), (2, 2), (3, 3)}
    assert symmetrise(fwd, rev, "intersection") == {(0, 0), (1, 1)}
    assert symmetrise(fwd, rev, "union") == {(0, 0), (1, 1), (2, 1), (2, 2), (3, 3)}
    # grow-diag: (2,1) neighbours (1,1) and source word 2 is unaligned -> added; then (2,2) neighbours (2,1)
    # and target word 2 is unaligned -> added; (3,3) neighbours (2,2) diagonally, both words unaligned -> added
    assert symmetrise(fwd, rev, "grow-diag") == {(0, 0), (1, 1), (2, 1), (2, 2), (3, 3)}
    far_fwd, far_rev = {(0, 0), (3, 5)}, {(0, 0), (4, 6)}
    assert symmetrise(far_fwd, far_rev, "grow-diag") == {(0, 0)}
    assert symmetrise(far_fwd, far_rev, "grow-diag-final-and") == {(0, 0), (3, 5), (4, 6)}
    # final-and needs both words free; final needs one
    f2, r2 = {(0, 0), (0, 3)}, {(0, 0)}
    assert symmetrise(f2, r2, "grow-diag-final-and") == {(0, 0)}
    assert symmetrise(f2, r2, "grow-diag-final") == {(0, 0), (0, 3)}
    with pytest.raises(ValueError, match="symmetrisation"):
        symmetrise(fwd, rev, "grow")


def test_argmax_and_itermax_on_a_built_matrix():
    sim = np.array(
        [
            [0.9, 0.1, 0.0, 0.0],
            [0.8, 0.2, 0.1, 0.3],  # prefers target 0, which prefers source 0: not mutual
            [0.0, 0.1, 0.7, 0.0],
            [0.1, 0.6, 0.1, 0.0],
        ]
    )
    assert {tuple(p) for p in np.argwhere(argmax_alignment(sim))} == {(0, 0), (2, 2), (3, 1)}
    # second IterMax round: source 1 and target 3 are free; pairs touching a free word stay (damped by 0.9
    # when the other word is aligned). Source 1's best is target 0 (0.72) and target 0's best among allowed
    # rows is source 1 -> mutual -> added; target 3's best is source 1, which prefers target 0 -> not added.
    it = {tuple(p) for p in np.argwhere(itermax_alignment(sim))}
    assert it == {(0, 0), (2, 2), (3, 1), (1, 0)}
    # with no free target word left nothing more is added (as in SimAlign)
    assert {tuple(p) for p in np.argwhere(itermax_alignment(sim[:, :3]))} == {(0, 0), (2, 2), (3, 1)}
    assert extract(sim, "argmax") == frozenset({(0, 0), (2, 2), (3, 1)})
    with pytest.raises(ValueError, match="extraction"):
        extract(sim, "hungarian")


def test_check_parallel_errors():
    with pytest.raises(ValueError, match="2 source sentences but 1 target"):
        check_parallel([["a"], ["b"]], [["x"]])
    with pytest.raises(ValueError, match="sentence 1 is empty on the target side"):
        check_parallel([["a"], ["b"]], [["x"], []])
    with pytest.raises(TypeError, match="token lists"):
        check_parallel(["a b"], ["x y"])


def _toy_corpus(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    lex = [(f"s{i}", f"t{i}") for i in range(40)]
    src, tgt, gold = [], [], []
    for _ in range(n):
        k = int(rng.integers(4, 9))
        words = rng.choice(len(lex), size=k, replace=False)
        order = list(range(k))
        if k > 4:  # one adjacent swap, like adjective-noun order
            j = int(rng.integers(0, k - 1))
            order[j], order[j + 1] = order[j + 1], order[j]
        src.append([lex[w][0] for w in words])
        tgt.append([lex[words[o]][1] for o in order])
        gold.append({(o, pos) for pos, o in enumerate(order)})
    return src, tgt, gold


def test_eflomal_learns_a_synthetic_lexicon():
    pytest.importorskip("eflomal")
    src, tgt, gold = _toy_corpus(300)
    extra_src, extra_tgt, _ = _toy_corpus(200, seed=1)
    aligner = EflomalAligner(extra_src=extra_src, extra_tgt=extra_tgt)
    out = aligner.align(src, tgt)
    assert len(out) == len(src)
    correct = sum(len(a & g) for a, g in zip(out, gold, strict=True))
    precision = correct / sum(len(a) for a in out)
    recall = correct / sum(len(g) for g in gold)
    assert precision > 0.9 and recall > 0.9
    with pytest.raises(ValueError, match="extra parallel text"):
        EflomalAligner(extra_src=[["a"]], extra_tgt=[])


def test_eflomal_missing_says_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "eflomal" else real(name, *a))
    with pytest.raises(AlignerNotInstalledError, match="pip install eflomal"):
        EflomalAligner().align([["a"]], [["b"]])


def test_string_aligner_links_names_and_numbers():
    src = [["Mr", "Prodi", "spoke", "on", "17", "December"]]
    tgt = [["el", "señor", "Prodi", "habló", "el", "17", "de", "diciembre"]]
    (links,) = StringAligner(min_similarity=0.8).align(src, tgt)
    assert {(1, 2), (4, 5)} <= links
    assert all(i != 2 for i, _ in links)  # "spoke" resembles nothing


def test_combine_and_precomputed(tmp_path):
    a = [frozenset({(0, 0), (1, 1)})]
    b = [frozenset({(1, 1), (2, 2)})]
    c = [frozenset({(2, 2)})]
    assert combine([a, b], "union") == [frozenset({(0, 0), (1, 1), (2, 2)})]
    assert combine([a, b], "intersection") == [frozenset({(1, 1)})]
    assert combine([a, b, c], "vote", 2) == [frozenset({(1, 1), (2, 2)})]
    src, tgt = [["x", "y", "z"]], [["u", "v", "w"]]
    both = CombinedAligner([PrecomputedAligner(a), PrecomputedAligner(b)], mode="union")
    assert both.align(src, tgt) == combine([a, b], "union")
    path = write_pharaoh(b, tmp_path / "links.txt")
    assert read_pharaoh(path) == b
    (tmp_path / "bad.txt").write_text("0-1 2:3\n")
    with pytest.raises(ValueError, match="bad.txt:1"):
        read_pharaoh(tmp_path / "bad.txt")
    with pytest.raises(ValueError, match="outside"):
        PrecomputedAligner([frozenset({(5, 0)})]).align(src, tgt)
    with pytest.raises(ValueError, match="unknown aligner"):
        get_aligner("giza")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A 2-layer random BERT with a WordPiece fast tokenizer, saved as an ordinary checkpoint folder."""
    pytest.importorskip("transformers")
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    words = ["the", "european", "parliament", "el", "parlamento", "europeo", "met", "se", "reunió", "prodi"]
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, "##s", "##x"])}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    from tokenizers.processors import TemplateProcessing

    tok.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    torch.manual_seed(0)
    model = BertModel(
        BertConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
        )
    )
    out = tmp_path_factory.mktemp("tiny-bert")
    model.save_pretrained(out)
    fast.save_pretrained(out)
    return out


def test_embedding_aligner_with_any_local_checkpoint(tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "cache"))
    aligner = EmbeddingAligner(model=str(tiny_checkpoint), layer=2, extraction="itermax")
    sent = ["the", "european", "parliament", "prodi", "met"]
    (vec,) = aligner.embed([sent])
    assert vec.shape == (5, 32)
    # a sentence aligned with itself: every word is its own best match
    (links,) = aligner.align([sent], [sent])
    assert links == frozenset((i, i) for i in range(5))
    # words split into several pieces ("parliaments" -> parliament ##s) are pooled to one vector each
    (vec2,) = aligner.embed([["parliaments", "met"]])
    assert vec2.shape == (2, 32)
    # cached: a second aligner with the same settings reads the stored result without encoding
    again = EmbeddingAligner(model=str(tiny_checkpoint), layer=2, extraction="itermax")
    monkeypatch.setattr(again, "similarities", lambda *a: pytest.fail("cache missed"))
    assert again.align([sent], [sent]) == [links]
    with pytest.raises(ValueError, match="layer 5 outside"):
        EmbeddingAligner(model=str(tiny_checkpoint), layer=5).embed([sent])
    softmax = EmbeddingAligner(model=str(tiny_checkpoint), layer=1, extraction="softmax", threshold=0.5, cache=False)
    assert softmax.align([sent], [sent]) == [frozenset((i, i) for i in range(5))]


def test_embedding_aligner_without_the_hub_says_so(tmp_path):
    pytest.importorskip("transformers")
    with pytest.raises(OSError, match="needs the Hugging Face hub or a local checkpoint"):
        EmbeddingAligner(model=str(tmp_path / "no-such-model"), cache=False).align([["a"]], [["b"]])
