"""The offline mini encoder: tokenizer, masking, pretraining, caching, and resolution by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xner.modeling.encoders import EncoderNotFoundError, mini, resolve_encoder
from xner.modeling.encoders.mini import MiniConfig, MiniEncoderError, MiniSize, mini_encoder, train_tokenizer
from xner.modeling.encoders.mlm import mask_batch, mlm_sequences

pytestmark = pytest.mark.slow  # trains models or runs the workflow


@pytest.fixture
def micro(monkeypatch):
    """A fourth, microscopic size so that pretraining takes a second in tests."""
    monkeypatch.setitem(
        mini.SIZES, "micro", MiniSize(layers=1, hidden=32, heads=2, intermediate=64, epochs=3, learning_rate=3e-3)
    )
    return MiniConfig(
        size="micro", vocab_size=200, min_frequency=1, max_length=32, batch_size=16, progress=False, num_threads=1
    )


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_named_sizes_grow():
    names = ["tiny", "small", "base"]
    assert all(n in mini.SIZES for n in names)
    params = [mini.SIZES[n].layers * mini.SIZES[n].hidden ** 2 for n in names]
    assert params == sorted(params) and len(set(params)) == 3
    for n in names:
        assert mini.SIZES[n].hidden % mini.SIZES[n].heads == 0


def test_tokenizer_is_unigram_deterministic_and_round_trips(toy_sentences, tmp_path):
    from transformers import AutoTokenizer

    toks, _ = toy_sentences(80)
    tok = train_tokenizer(toks, vocab_size=120, min_frequency=1)
    assert tok.get_vocab() == train_tokenizer(toks, vocab_size=120, min_frequency=1).get_vocab()
    assert tok.convert_ids_to_tokens(list(range(5))) == list(mini.SPECIALS)
    enc = tok(["Jakarta", "Petronasku"], is_split_into_words=True)
    pieces = tok.convert_ids_to_tokens(enc["input_ids"])
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    assert pieces[1] == "\u2581Jakarta"  # a frequent word is one piece, with the word-start mark
    assert enc.word_ids().count(1) > 1  # an unseen word is split into pieces
    assert [
        p for p, w in zip(pieces, enc.word_ids(), strict=True) if w is not None and p.startswith("\u2581")
    ] == pieces[1:2] + [pieces[enc.word_ids().index(1)]]
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert (
        again(["Jakarta"], is_split_into_words=True)["input_ids"]
        == tok(["Jakarta"], is_split_into_words=True)["input_ids"]
    )
    assert again.mask_token == "[MASK]" and again.pad_token_id == 0
    with pytest.raises(MiniEncoderError, match="no words"):
        train_tokenizer([["a"], ["b"]], min_frequency=5)


def test_mask_batch_whole_words_and_determinism(toy_sentences):
    toks, _ = toy_sentences(40)
    tok = train_tokenizer(toks, vocab_size=120, min_frequency=1)
    seqs = mlm_sequences(tok, [["Jakarta", "Petronasku", "Bandungville", "di"]] * 30, 32)

    def run(seed):
        return mask_batch(
            seqs,
            np.random.default_rng(seed),
            mask_id=tok.mask_token_id,
            pad_id=0,
            vocab_size=len(tok),
            n_special=5,
            probability=0.25,
            whole_word=True,
        )

    a, b = run(0), run(0)
    assert all(torch.equal(a[k], b[k]) for k in a)
    labels = a["labels"]
    for i, s in enumerate(seqs):
        masked = labels[i] != -100
        assert masked.any()  # at least one word per sequence
        assert not masked[np.asarray(s.word) < 0].any()  # never a special token
        words = set(np.asarray(s.word)[masked.numpy()[: len(s.word)]].tolist())
        for w in words:  # whole-word: every piece of a chosen word is a target
            assert masked[: len(s.word)][torch.from_numpy(np.asarray(s.word) == w)].all()
        assert torch.equal(labels[i][masked], torch.from_numpy(s.ids)[masked[: len(s.ids)]])
    share = (a["input_ids"][labels != -100] == tok.mask_token_id).float().mean()
    assert 0.5 < share < 1.0  # ~80 % [MASK]


def test_pretrain_writes_standard_checkpoint_and_is_deterministic(toy_sentences, micro, tmp_path):
    from safetensors.torch import load_file
    from transformers import AutoModelForTokenClassification

    toks, _ = toy_sentences(60)
    a = mini.pretrain(toks, micro, tmp_path / "a")
    b = mini.pretrain(toks, micro, tmp_path / "b")
    meta = json.loads((a / "mini_encoder.json").read_text())
    assert len(meta["history"]) == 3 and meta["history"][-1]["mlm_loss"] < meta["history"][0]["mlm_loss"]
    assert meta["settings"]["architecture"]["layers"] == 1
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    model = AutoModelForTokenClassification.from_pretrained(a, num_labels=7)
    assert type(model).__name__ == "BertForTokenClassification"


def test_cache_reuses_and_keys_on_seed(toy_sentences, micro, cache, monkeypatch):
    toks, _ = toy_sentences(40)
    first = mini_encoder(["ms", "id"], size="micro", seed=0, config=micro, text=toks)
    assert first.parent == cache / "models" / "mini" and "id+ms" in first.name
    assert not [p for p in first.parent.iterdir() if ".tmp-" in p.name]

    def boom(*a, **k):
        raise AssertionError("pretraining ran although the model is cached")

    monkeypatch.setattr(mini, "pretrain", boom)
    assert mini_encoder(["id", "ms"], size="micro", seed=0, config=micro, text=toks) == first
    with pytest.raises(AssertionError, match="pretraining ran"):
        mini_encoder(["id", "ms"], size="micro", seed=1, config=micro, text=toks)
    assert not [p for p in first.parent.iterdir() if ".tmp-" in p.name]  # the failed run left nothing behind
    assert len(list(first.parent.iterdir())) == 1


def test_resolve_mini_by_name_uses_train_split_text(micro, cache, fixture_data_dir):
    path = resolve_encoder("mini-micro", languages=["id", "ms"], seed=0)
    meta = json.loads((Path(path) / "mini_encoder.json").read_text())
    from conftest import FIXTURE_SENTENCES

    n_train = len(FIXTURE_SENTENCES["id"]) + len(FIXTURE_SENTENCES["ms"])
    assert meta["languages"] == ["id", "ms"] and meta["n_sentences"] == n_train  # the two train splits
    assert resolve_encoder("mini-micro", languages=["ms", "id"]) == path


def test_mini_encoder_fine_tunes_like_any_checkpoint(toy_dataset, toy_sentences, micro, cache):
    from xner.modeling import TrainConfig, train_ner

    toks, _ = toy_sentences(60)
    path = mini_encoder(["id"], size="micro", seed=0, config=micro, text=toks)
    cfg = TrainConfig(model="mini-micro", epochs=1, batch_size=8, progress=False, num_threads=1)
    res = train_ner(toy_dataset(16), toy_dataset(6, seed=1), cfg, encoder=str(path))
    assert len(res.model.predict([["Ali", "di", "Medan"]])[0]) == 3


def test_bad_requests():
    with pytest.raises(MiniEncoderError, match="unknown mini encoder"):
        resolve_encoder("mini-huge", languages=["id"])
    with pytest.raises(EncoderNotFoundError, match="languages"):
        resolve_encoder("mini-tiny")
    with pytest.raises(MiniEncoderError, match="languages"):
        mini_encoder([], size="tiny")
    with pytest.raises(MiniEncoderError, match="size"):
        MiniConfig(size="huge")
    with pytest.raises(MiniEncoderError, match="no text"):
        mini.pretrain([[], []], MiniConfig(size="tiny"), "/nonexistent")
