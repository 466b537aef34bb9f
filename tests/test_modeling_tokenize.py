"""First-sub-word alignment and windows, with the real XLM-R SentencePiece tokenizer and a real WordPiece one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xner.modeling.tokenize import (
    IGNORE_INDEX,
    AlignmentError,
    SubwordEncoder,
    align_labels,
    effective_max_length,
    plan_windows,
    special_layout,
)

WORDS = [
    "Kuala",
    "Lumpur",
    "(",
    "Malaysia",
    ")",
    "adalah",
    "ibu-kota",
    "Ma\u0301laysia.",
    "کتابخانه",
    "\u200b",
    "Ngũgĩ",
    "wa",
    "Thiong'o",
    "2019",
    "U.S.A.",
]


@pytest.fixture(scope="module")
def xlmr(xlmr_tokenizer_file):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_file=str(xlmr_tokenizer_file),
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        mask_token="<mask>",
        model_max_length=512,
    )


@pytest.fixture(scope="module")
def wordpiece(minilm_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(minilm_dir), local_files_only=True)


@pytest.fixture(params=["xlmr", "wordpiece"])
def tokenizer(request):
    return request.getfixturevalue(request.param)


def test_align_labels_first_piece_only():
    assert align_labels([None, 0, 0, 1, 2, 2, 2, None], [5, 6, 7]) == [-100, 5, -100, 6, 7, -100, -100, -100]
    with pytest.raises(AlignmentError):
        align_labels([0, 3], [1, 2])


def test_special_layout(xlmr, wordpiece):
    assert special_layout(xlmr) == ([xlmr.cls_token_id], [xlmr.sep_token_id])
    assert special_layout(wordpiece) == ([wordpiece.cls_token_id], [wordpiece.sep_token_id])


def test_align_labels_agrees_with_tokenizer_word_ids(tokenizer):
    """The HF-style alignment and our encoder put each word's label on the same (first) piece."""
    labels = list(range(1, len(WORDS) + 1))
    enc = tokenizer(WORDS, is_split_into_words=True)
    aligned = align_labels(enc.word_ids(), labels)
    feats, stats = SubwordEncoder(tokenizer, 512).encode([WORDS], [labels])
    assert len(feats) == 1
    f = feats[0]
    word_ids = enc.word_ids()
    if stats.empty_words == 0:
        assert f.input_ids == enc["input_ids"]
        assert f.labels == aligned
    # Every word gets its label exactly once, at its first piece, in order.
    got = [lab for lab in f.labels if lab != IGNORE_INDEX]
    assert got == labels
    assert [w for w in f.word_index if w >= 0] == list(range(len(WORDS)))
    # First pieces of words that the tokenizer does encode sit where word_ids() says the word starts.
    starts = {w: i for i, w in reversed(list(enumerate(word_ids))) if w is not None}
    if stats.empty_words == 0:
        for w, pos in starts.items():
            assert f.word_index[pos] == w


def test_sentencepiece_prefix_piece_and_continuations(xlmr):
    """XLM-R: '▁' can be a piece of its own; the label still goes on the word's first piece only."""
    feats, _ = SubwordEncoder(xlmr, 128).encode([["ibu-kota", "Ma\u0301laysia."]], [[1, 2]])
    toks = xlmr.convert_ids_to_tokens(feats[0].input_ids)
    first = [toks[i] for i, w in enumerate(feats[0].word_index) if w >= 0]
    assert all(t.startswith("\u2581") for t in first)
    assert sum(1 for lab in feats[0].labels if lab != IGNORE_INDEX) == 2
    assert len(toks) > 4  # words were split into several pieces


def test_wordpiece_continuations_ignored(wordpiece):
    feats, _ = SubwordEncoder(wordpiece, 128).encode([["adalah", "کتابخانه"]], [[3, 4]])
    toks = wordpiece.convert_ids_to_tokens(feats[0].input_ids)
    for tok_, lab in zip(toks, feats[0].labels, strict=True):
        if tok_.startswith("##") or tok_ in ("[CLS]", "[SEP]"):
            assert lab == IGNORE_INDEX
    assert [lab for lab in feats[0].labels if lab != IGNORE_INDEX] == [3, 4]


def test_word_without_pieces_gets_unknown_token_and_is_counted(wordpiece):
    feats, stats = SubwordEncoder(wordpiece, 128).encode([["a", "\u200b", ""]], [[1, 2, 3]])
    assert stats.empty_words == 2
    assert [lab for lab in feats[0].labels if lab != IGNORE_INDEX] == [1, 2, 3]
    assert feats[0].input_ids.count(wordpiece.unk_token_id) == 2


def test_empty_sentence_counted_not_encoded(xlmr):
    feats, stats = SubwordEncoder(xlmr, 64).encode([[], ["a"]])
    assert stats.empty_sentences == 1 and len(feats) == 1 and feats[0].sentence == 1


@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.5, 0.9])
def test_long_sentence_is_windowed_not_truncated(tokenizer, overlap):
    words = [f"kata{i}" if i % 3 else "Kuala-Lumpur" for i in range(300)]
    labels = [i % 7 for i in range(300)]
    enc = SubwordEncoder(tokenizer, 32, overlap)
    feats, stats = enc.encode([words], [labels])
    assert stats.windowed_sentences == 1 and stats.windows == len(feats) > 1
    assert all(len(f) <= 32 for f in feats)
    owned = sorted(w for f in feats for w in f.word_index if w >= 0)
    assert owned == list(range(300))  # every word owned exactly once
    by_word = {w: lab for f in feats for w, lab in zip(f.word_index, f.labels, strict=True) if w >= 0}
    assert [by_word[i] for i in range(300)] == labels


def test_overlong_word_is_clipped_and_counted(wordpiece):
    word = "x" + "-x" * 200
    feats, stats = SubwordEncoder(wordpiece, 16).encode([["a", word, "b"]], [[1, 2, 3]])
    assert stats.clipped_words == 1 and stats.clipped_pieces > 0
    assert all(len(f) <= 16 for f in feats)
    assert sorted(w for f in feats for w in f.word_index if w >= 0) == [0, 1, 2]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(1, 10), min_size=0, max_size=60), st.integers(10, 40), st.sampled_from([0.0, 0.3, 0.5, 0.8])
)
def test_plan_windows_properties(counts, budget, overlap):
    wins = plan_windows(counts, budget, overlap)
    if not counts:
        assert wins == []
        return
    owned = []
    for w in wins:
        assert 0 <= w.start <= w.own_start < w.own_end <= w.end <= len(counts)
        assert sum(counts[w.start : w.end]) <= budget
        owned += list(range(w.own_start, w.own_end))
    assert owned == list(range(len(counts)))
    assert wins[0].start == 0 and wins[-1].end == len(counts)


def test_plan_windows_rejects_unclipped_words():
    with pytest.raises(AlignmentError):
        plan_windows([3, 50], 10)


def test_effective_max_length_caps(xlmr):
    from transformers import XLMRobertaConfig

    cfg = XLMRobertaConfig(max_position_embeddings=514, pad_token_id=1)
    assert effective_max_length(xlmr, cfg, 4096) == 512
    assert effective_max_length(xlmr, cfg, 128) == 128


def test_slow_tokenizer_is_refused():
    class Slow:
        is_fast = False

    with pytest.raises(AlignmentError, match="fast tokenizer"):
        SubwordEncoder(Slow(), 64)
