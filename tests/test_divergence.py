"""Stage 02 divergences and drop prediction: measures against hand-computed values, bounds, symmetry, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from xner import divergence as dv
from xner.data import from_lists, load_split
from xner.divergence import drop
from xner.labels import CONLL, WIKIANN, LabelError

# ---------------------------------------------------------------------------------------------- fixtures

SRC = [  # tokens, tags
    (["Joko", "Widodo", "tinggal", "di", "Jakarta"], ["B-PER", "I-PER", "O", "O", "B-LOC"]),
    (["Bank", "Indonesia", "buka"], ["B-ORG", "I-ORG", "O"]),
    (["di", "Bandung", "dan", "Surabaya"], ["O", "B-LOC", "O", "B-LOC"]),
    (["hari", "ini"], ["O", "O"]),
]
TGT = [
    (["Anwar", "Ibrahim", "tinggal", "di", "Jakarta"], ["B-PER", "I-PER", "O", "O", "B-LOC"]),
    (["Bank", "Negara", "Malaysia", "buka"], ["B-ORG", "I-ORG", "I-ORG", "O"]),
    (["ke", "Kuala", "Lumpur"], ["O", "B-LOC", "I-LOC"]),
]


def ds_of(sents, label_set=WIKIANN, lang="xx"):
    return from_lists([s[0] for s in sents], [s[1] for s in sents], lang=lang, label_set=label_set)


@pytest.fixture
def src():
    return ds_of(SRC, lang="id")


@pytest.fixture
def tgt():
    return ds_of(TGT, lang="ms")


def kl2(p, q):
    """Hand formula: Σ p log2(p/q) over p > 0."""
    return sum(a * math.log2(a / b) for a, b in zip(p, q, strict=True) if a > 0)


# ---------------------------------------------------------------------------------------------- measures


def test_js_hand_values():
    assert dv.js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    # p = (.5, .5), q = (1, 0): m = (.75, .25)
    m = (0.75, 0.25)
    expected = (kl2((0.5, 0.5), m) + kl2((1, 0), m)) / 2
    assert expected == pytest.approx(0.311278, abs=1e-6)
    assert dv.js_divergence([0.5, 0.5], [1, 0]) == pytest.approx(expected, abs=1e-12)
    # counts are normalised first
    assert dv.js_divergence([2, 2], [7, 0]) == pytest.approx(expected, abs=1e-12)


def test_js_is_square_of_scipy_distance():
    from scipy.spatial.distance import jensenshannon

    p, q = np.array([0.2, 0.5, 0.3]), np.array([0.6, 0.1, 0.3])
    assert dv.js_divergence(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2, abs=1e-12)


def test_js_identical_is_zero_not_nan():
    rng = np.random.default_rng(0)
    for _ in range(200):  # scipy returns NaN for some of these (sqrt of a rounding-negative sum)
        x = rng.dirichlet(np.ones(5))
        v = dv.js_divergence(x, x * 3)
        assert v == 0.0 or (0 <= v < 1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100)), min_size=1, max_size=8))
def test_js_symmetry_and_bounds(cells):
    p, q = [c[0] for c in cells], [c[1] for c in cells]
    if sum(p) <= 0 or sum(q) <= 0:
        with pytest.raises(dv.DivergenceError):
            dv.js_divergence(p, q)
        return
    a, b = dv.js_divergence(p, q), dv.js_divergence(q, p)
    assert 0.0 <= a <= 1.0 and math.isfinite(a)
    assert a == pytest.approx(b, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=8), st.floats(0.01, 2))
def test_kl_smoothed_is_finite_and_nonnegative(cells, alpha):
    p, q = [c[0] for c in cells], [c[1] for c in cells]
    if sum(p) == 0 or sum(q) == 0:
        with pytest.raises(dv.DivergenceError, match="all cells are zero"):
            dv.kl_divergence(p, q, alpha)
        return
    v = dv.kl_divergence(p, q, alpha)
    assert math.isfinite(v) and v >= 0


def test_kl_hand_values():
    assert dv.kl_divergence([1, 1], [1, 3]) == pytest.approx(kl2((0.5, 0.5), (0.25, 0.75)), abs=1e-12)
    assert dv.kl_divergence([1, 1], [1, 3]) == pytest.approx(0.5 - 0.5 * math.log2(1.5), abs=1e-12)
    # smoothing 1: p = (2, 2)/4, q = (2, 4)/6
    assert dv.kl_divergence([1, 1], [1, 3], 1.0) == pytest.approx(kl2((0.5, 0.5), (1 / 3, 2 / 3)), abs=1e-12)
    # smoothing rescues a zero cell: p = (3, 1)/4, q = (1, 3)/4 with alpha = 1 on counts (2, 0) vs (0, 2)
    assert dv.kl_divergence([2, 0], [0, 2], 1.0) == pytest.approx(kl2((0.75, 0.25), (0.25, 0.75)), abs=1e-12)
    assert dv.kl_divergence([1, 2, 3], [1, 2, 3]) == 0.0


def test_kl_zero_cell_without_smoothing_is_an_error_not_inf():
    with pytest.raises(dv.DivergenceError, match="infinite"):
        dv.kl_divergence([1, 1], [1, 0])
    with pytest.raises(dv.DivergenceError, match="smoothing"):
        dv.kl_divergence([1, 1], [1, 1], -0.1)
    assert dv.kl_divergence([1, 0], [1, 1]) == pytest.approx(1.0)  # p's zero cell is fine


def test_wasserstein_hand_values():
    assert dv.length_wasserstein({1: 1}, {3: 1}) == pytest.approx(2.0)
    assert dv.length_wasserstein({1: 1, 2: 1}, {2: 5}) == pytest.approx(0.5)
    assert dv.length_wasserstein({1: 2, 3: 2}, {1: 1, 3: 1}) == pytest.approx(0.0)
    with pytest.raises(dv.DivergenceError, match="empty"):
        dv.length_wasserstein({}, {1: 1})


def test_bad_vectors():
    for bad in ([], [0, 0], [1, -1], [1, float("nan")]):
        with pytest.raises(dv.DivergenceError):
            dv.js_divergence(bad, [1] * max(1, len(bad)))
    with pytest.raises(dv.DivergenceError, match="aligned"):
        dv.js_divergence([1, 2], [1, 2, 3])
    with pytest.raises(dv.DivergenceError, match="non-negative"):
        dv.kl_divergence([-0.1, 1], [1, 1], smoothing=0.5)  # smoothing must not hide a negative count
    with pytest.raises(dv.DivergenceError, match="all cells are zero"):
        dv.kl_divergence([0, 0], [1, 1], smoothing=0.5)


# ---------------------------------------------------------------------------------------------- profiles


def test_profile_hand_counts(src):
    p = dv.profile_split(src, "id/train")
    assert p.n_sentences == 4 and p.n_tokens == 14 and p.n_entities == 5
    assert dict(p.type_counts) == {"PER": 1, "ORG": 1, "LOC": 3}
    assert dict(p.family("span_length")) == {2: 2, 1: 3}
    assert dict(p.family("span_length[LOC]")) == {1: 3}
    assert dict(p.family("entities_per_sentence")) == {2: 2, 1: 1, 0: 1}
    tr = p.family("transitions")
    assert tr[("<s>", "B-PER")] == 1 and tr[("O", "</s>")] == 2 and tr[("O", "O")] == 2 and tr[("B-LOC", "O")] == 1
    assert sum(tr.values()) == 14 + 4  # one bigram per token plus the end marker per sentence
    assert dict(p.typed_surfaces)[("LOC", "Jakarta")] == 1
    assert p.context_words["di"] == 2
    table = dv.distributions(p)
    assert set(table["family"]) == set(dv.families(WIKIANN.types))
    sums = table.groupby("family")["share"].sum()
    assert np.allclose(sums.to_numpy(), 1.0)  # every family of this split has entities
    assert table[table.family == "type_mix"].set_index("cell")["share"]["LOC"] == pytest.approx(0.6)


TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


def reference_profile(tokens, tags):
    """Per-sentence counting with xner.metrics.get_entities: what the vectorised profile must reproduce."""
    from collections import Counter

    from xner.metrics import get_entities

    types, lengths, per, trans, surf, ewords, ctx = (Counter() for _ in range(7))
    for words, tg in zip(tokens, tags, strict=True):
        ents = get_entities(tg)
        per[len(ents)] += 1
        trans.update(zip(["<s>", *tg], [*tg, "</s>"], strict=True))
        ctx.update(w for w, t in zip(words, tg, strict=True) if t == "O")
        for typ, s, e in ents:
            types[typ] += 1
            lengths[(typ, e - s)] += 1
            surf[(typ, " ".join(words[s:e]))] += 1
            ewords.update(words[s:e])
    return types, lengths, per, trans, surf, ewords, ctx


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from(TAGS)), max_size=7), min_size=1, max_size=6)
)
def test_vectorised_profile_equals_per_sentence_reference(sents):
    """Random tag sequences, orphan I- tags and empty sentences included."""
    tokens = [[w for w, _ in s] for s in sents]
    tags = [[t for _, t in s] for s in sents]
    types, lengths, per, trans, surf, ewords, ctx = reference_profile(tokens, tags)
    ds = from_lists(tokens, tags, lang="xx", label_set=WIKIANN)
    if not types:
        with pytest.raises(dv.DivergenceError, match="no entities"):
            dv.profile_split(ds)
        return
    p = dv.profile_split(ds)
    assert dict(p.type_counts) == dict(types)
    assert {(t, n): k for t in WIKIANN.types for n, k in p.lengths[t].items()} == dict(lengths)
    assert dict(p.entities_per_sentence) == dict(per)
    assert dict(p.transitions) == dict(trans)
    assert dict(p.typed_surfaces) == dict(surf)
    assert dict(p.entity_words) == dict(ewords) and dict(p.context_words) == dict(ctx)
    assert p.n_tokens == sum(map(len, tokens)) and p.n_sentences == len(tokens)


def test_compare_hand_values(src, tgt):
    r = dv.compare(src, tgt, source_name="id", target_name="ms", smoothing=0.5)
    v = r.values
    # type mix: source (PER, ORG, LOC) = (1, 1, 3), target = (1, 1, 2); m = (.225, .225, .55)
    assert v["type_mix.js"] == pytest.approx(
        (kl2((0.2, 0.2, 0.6), (0.225, 0.225, 0.55)) + kl2((0.25, 0.25, 0.5), (0.225, 0.225, 0.55))) / 2, abs=1e-12
    )
    assert v["type_mix.js"] == pytest.approx(0.0072992, abs=1e-6)  # by hand: (0.007349 + 0.0072495) / 2
    # smoothed KL with 0.5 pseudo-counts per cell: (1.5, 1.5, 3.5)/6.5 vs (1.5, 1.5, 2.5)/5.5
    ps, pt = np.array([1.5, 1.5, 3.5]) / 6.5, np.array([1.5, 1.5, 2.5]) / 5.5
    assert v["type_mix.kl_st"] == pytest.approx(kl2(ps, pt), abs=1e-12)
    assert v["type_mix.kl_ts"] == pytest.approx(kl2(pt, ps), abs=1e-12)
    # span lengths: source {1: 3, 2: 2}; target {1: 1, 2: 2, 3: 1}: W1 = ∫|F_s − F_t|
    assert v["span_length.wasserstein"] == pytest.approx((0.6 - 0.25) + (1.0 - 0.75))
    assert v["span_length.wasserstein"] == pytest.approx(stats.wasserstein_distance([1, 1, 1, 2, 2], [1, 2, 2, 3]))
    assert v["span_length.js"] == pytest.approx(dv.js_divergence([3, 2, 0], [1, 2, 1]), abs=1e-12)
    # entities per sentence: source {0: 1, 1: 1, 2: 2}, target {1: 2, 2: 1}: CDFs (.25, .5, 1) vs (0, 2/3, 1)
    assert v["entities_per_sentence.wasserstein"] == pytest.approx(0.25 + (2 / 3 - 0.5))
    # overlap: target mentions Anwar Ibrahim, Jakarta, Bank Negara Malaysia, Kuala Lumpur; only Jakarta seen
    assert v["entity_overlap"] == pytest.approx(1 / 4)
    assert v["entity_overlap_typed"] == pytest.approx(1 / 4)
    # entity words of target: Anwar Ibrahim Jakarta Bank Negara Malaysia Kuala Lumpur → Jakarta, Bank seen
    assert v["entity_token_overlap"] == pytest.approx(2 / 8)
    # target O words: tinggal di buka ke → tinggal, di, buka seen as source O words
    assert v["context_overlap"] == pytest.approx(3 / 4)
    assert r.smoothing == 0.5 and r.skipped == {} and r.mapping_text() == "identity"
    assert all(math.isfinite(x) for x in v.values())
    assert all(0 <= v[m] <= 1 for m in v if m.endswith(".js"))


def test_typed_overlap_requires_the_type(src):
    tgt = ds_of([(["Jakarta"], ["B-ORG"]), (["Bandung"], ["B-LOC"])])
    v = dv.compare(src, tgt, ["entity_overlap", "entity_overlap_typed"]).values
    assert v == {"entity_overlap": 1.0, "entity_overlap_typed": 0.5}


def test_same_split_has_zero_divergence(src):
    p = dv.profile_split(src, "a")
    r = dv.compare_profiles(p, p)
    for m, val in r.values.items():
        if dv.measure_kind(m) == "divergence":
            assert val == pytest.approx(0.0, abs=1e-12), m
        else:
            assert val == pytest.approx(1.0), m


def test_divergences_are_symmetric_where_they_should_be(src, tgt):
    a = dv.compare(src, tgt).values
    b = dv.compare(tgt, src).values
    for m in a:
        if m.endswith((".js", ".wasserstein")):
            assert a[m] == pytest.approx(b[m], abs=1e-12), m
        if m.endswith(".kl_st"):
            assert a[m] == pytest.approx(b[m.replace("kl_st", "kl_ts")], abs=1e-12)


def test_per_type_skipped_by_default_error_when_asked(src):
    tgt = ds_of([(["Jakarta"], ["B-LOC"])])
    r = dv.compare(src, tgt)
    assert "span_length[PER].js" in r.skipped and "span_length[PER].js" not in r.values
    assert "no entities of this type" in r.skipped["span_length[PER].js"]
    with pytest.raises(dv.DivergenceError, match="no entities of this type"):
        dv.compare(src, tgt, ["span_length[PER].js"])


def test_bad_input_errors(src, tgt):
    with pytest.raises(dv.DivergenceError, match="empty split"):
        dv.compare(src, ds_of([]))
    with pytest.raises(dv.DivergenceError, match="no entities"):
        dv.compare(src, ds_of([(["a", "b"], ["O", "O"])]))
    with pytest.raises(dv.DivergenceError, match="unknown measure"):
        dv.compare(src, tgt, ["type_mix.hellinger"])
    with pytest.raises(dv.DivergenceError, match="unknown measure"):
        dv.compare(src, tgt, ["transitions.wasserstein"])  # Wasserstein is for length-like families only
    with pytest.raises(dv.DivergenceError, match="tokenizer"):
        dv.compare(src, tgt, ["subword_overlap"])
    with pytest.raises(dv.DivergenceError, match="smoothing"):
        dv.compare(src, tgt, smoothing=-1)
    with pytest.raises(dv.DivergenceError, match="KL"):
        dv.compare(src, tgt, ["span_length.kl_ts"], smoothing=0)  # source has no length-3 span


def test_label_sets_that_differ_need_an_explicit_mapping(src):
    conll_tgt = ds_of([(["Joko", "Mandarin"], ["B-PER", "B-MISC"]), (["Jakarta"], ["B-LOC"])], label_set=CONLL)
    # source WIKIANN onto the target's CONLL works (nothing lost), target keeps MISC
    r = dv.compare(src, conll_tgt)
    assert "MISC" in r.mapping_text()
    # target CONLL onto WIKIANN needs to say what MISC becomes
    with pytest.raises(LabelError, match="MISC"):
        dv.compare(src, conll_tgt, label_set=WIKIANN)
    r = dv.compare(src, conll_tgt, label_set=WIKIANN, type_map={"MISC": None})
    assert "dropped 1" in r.mapping_text()
    # after dropping MISC the target has PER 1, LOC 1
    assert r.values["type_mix.js"] == pytest.approx(dv.js_divergence([1, 1, 3], [1, 0, 1]))
    with pytest.raises(dv.DivergenceError, match="neither split"):
        dv.compare(src, conll_tgt, label_set=WIKIANN, type_map={"MISC": None, "DATE": None})
    # profiles on different label sets are refused
    with pytest.raises(dv.DivergenceError, match="map them"):
        dv.compare_profiles(dv.profile_split(src), dv.profile_split(conll_tgt))


# ---------------------------------------------------------------------------------------------- subwords


def _word_level(vocab):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(["[UNK]", *vocab])}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok


def test_subword_overlap_hand_value(src, tgt):
    # word-level "subwords": a target word counts as seen when the source has it; [UNK] never counts
    tok = _word_level(["Jakarta", "di", "tinggal", "Bank", "Kuala", "buka", "Joko"])
    v = dv.compare(src, tgt, ["subword_overlap", "entity_subword_overlap"], tokenizer=tok).values
    # target words (12): Anwar Ibrahim tinggal di Jakarta Bank Negara Malaysia buka ke Kuala Lumpur
    # ids present in the source: tinggal di Jakarta Bank buka (Kuala is in the vocab but not in the source)
    assert v["subword_overlap"] == pytest.approx(5 / 12)
    # entity words (8): Jakarta, Bank seen
    assert v["entity_subword_overlap"] == pytest.approx(2 / 8)
    # the all-pairs index path agrees, [UNK] exclusion included
    ps, pt = dv.profile_split(src, "s", tokenizer=tok), dv.profile_split(tgt, "t", tokenizer=tok)
    table = dv.all_pairs({"s": ps}, {"t": pt}, ["subword_overlap", "entity_subword_overlap"])
    assert dict(zip(table["measure"], table["value"], strict=True)) == v


def test_subword_overlap_with_trained_tokenizer_and_path(src, tgt, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    text = [" ".join(s[0]) for s in SRC + TGT]
    tok.train_from_iterator(text, trainers.WordPieceTrainer(vocab_size=80, special_tokens=["[UNK]"]))
    a = dv.compare(src, tgt, ["subword_overlap"], tokenizer=tok).values["subword_overlap"]
    tok.save(str(tmp_path / "tokenizer.json"))
    b = dv.compare(src, tgt, ["subword_overlap"], tokenizer=tmp_path / "tokenizer.json").values["subword_overlap"]
    c = dv.compare(src, tgt, ["subword_overlap"], tokenizer=str(tmp_path)).values["subword_overlap"]
    assert a == b == c
    assert 0 < a < 1
    with pytest.raises(dv.DivergenceError, match="not supported"):
        dv.resolve_tokenizer(42)


def test_subword_overlap_with_transformers_tokenizer(src, tgt, tmp_path):
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=_word_level(["Jakarta", "di", "tinggal", "Bank", "buka"]), unk_token="[UNK]"
    )
    v = dv.compare(src, tgt, ["subword_overlap"], tokenizer=fast).values
    assert v["subword_overlap"] == pytest.approx(5 / 12)


# ---------------------------------------------------------------------------------------------- all pairs, tables


def _profiles():
    langs = {"aa": SRC, "bb": TGT, "cc": SRC[:2] + TGT[2:]}
    return {k: dv.profile_split(ds_of(v), f"{k}") for k, v in langs.items()}


def test_all_pairs_matrix_and_tables(tmp_path):
    prof = _profiles()
    df = dv.all_pairs(prof, prof, smoothing=0.25)
    assert len(df) == 9 * len(dv.measure_names(WIKIANN.types)) and df.attrs["skipped"] == []
    mat = dv.matrix(df, "type_mix.js")
    assert list(mat.index) == ["aa", "bb", "cc"] and list(mat.columns) == ["aa", "bb", "cc"]
    assert np.allclose(np.diag(mat.to_numpy()), 0)
    assert np.allclose(mat.to_numpy(), mat.to_numpy().T)
    assert ((df["value"] >= 0) & np.isfinite(df["value"])).all()
    with pytest.raises(dv.DivergenceError, match="not in the table"):
        dv.matrix(df, "nope.js")
    # the vectorised overlap index of all_pairs gives exactly the per-pair dictionary numbers
    for (s, t), grp in df.groupby(["source", "target"]):
        direct = dv.compare_profiles(prof[s], prof[t], smoothing=0.25).values
        assert dict(zip(grp["measure"], grp["value"], strict=True)) == direct
    paths = dv.write_tables(tmp_path, all_pairs_df=df, sig_fields={"smoothing": 0.25, "data": "fixture"})
    assert paths == [tmp_path / "all_pairs.csv"]
    sig = json.loads((tmp_path / "all_pairs.csv.signature.json").read_text())
    assert sig["smoothing"] == 0.25 and sig["js_base"] == 2
    back = pd.read_csv(tmp_path / "all_pairs.csv")
    assert len(back) == len(df) and "signature" in back.columns


def test_pair_table_on_fixture_data(fixture_data_dir, tmp_path):
    df = dv.pair_table(["id-ms"], measures=["type_mix.js", "entity_overlap"], smoothing=0.5)
    assert set(df["measure"]) == {"type_mix.js", "entity_overlap"}
    assert (df["source"] == "id").all() and (df["target"] == "ms").all()
    assert (df["smoothing"] == 0.5).all() and (df["mapping"] == "identity").all()
    src, tgt = load_split("id", "train"), load_split("ms", "test")
    assert df.set_index("measure")["value"]["type_mix.js"] == pytest.approx(dv.compare(src, tgt).values["type_mix.js"])
    assert dv.local_languages() == ["id", "ms"]


def test_heatmap_figure(tmp_path):
    from xner.figures import save_figure

    df = dv.all_pairs(_profiles(), _profiles(), ["type_mix.js", "entity_overlap"])
    for m in ("type_mix.js", "entity_overlap"):
        paths = save_figure(dv.plot_heatmap(dv.matrix(df, m), m), tmp_path / m)
        assert all(p.stat().st_size > 0 for p in paths)


@pytest.mark.realdata
def test_real_all_pairs_small():
    langs = ["id", "ms", "jv"]
    s, t = dv.load_profiles(langs, "train"), dv.load_profiles(langs, "test")
    df = dv.all_pairs(s, t)
    assert np.isfinite(df["value"]).all()
    js = df[df["statistic"] == "js"]["value"]
    assert ((js >= 0) & (js <= 1)).all()
    # a language's own (5,000-sentence) training set covers its test context better than another language's
    ov = dv.matrix(df, "context_overlap")
    for lang in ("id", "ms"):
        assert ov.loc[lang, lang] > ov.loc[[x for x in langs if x != lang], lang].max()
    assert dv.matrix(df, "type_mix.js").loc["id", "ms"] < 0.05


# ---------------------------------------------------------------------------------------------- drop prediction


def _eval_rows(drops: dict[tuple[str, str], float], native: dict[str, float], model="m", seeds=(0, 1)):
    rows = []
    base = {
        "setting": None,
        "model": model,
        "eval_dataset": "wikiann",
        "eval_split": "test",
        "perturbation": "clean",
        "n_sentences": 100,
        "precision": 0.0,
        "recall": 0.0,
        "f1_low": 0.0,
        "f1_high": 1.0,
        "lenient_f1": 0.0,
    }
    for tgt, f1 in native.items():
        for i, seed in enumerate(seeds):  # seeds differ by ±0.01: the mean is f1
            rows.append(
                {
                    **base,
                    "source": tgt,
                    "target": tgt,
                    "setting": "native",
                    "seed": seed,
                    "eval_lang": tgt,
                    "f1": f1 + (0.01 if i == 0 else -0.01),
                }
            )
    for (s, t), d in drops.items():
        for seed in seeds:
            rows.append(
                {
                    **base,
                    "source": s,
                    "target": t,
                    "setting": "zero-shot",
                    "seed": seed,
                    "eval_lang": t,
                    "f1": native[t] - d,
                }
            )
            rows.append(
                {
                    **base,
                    "source": s,
                    "target": t,
                    "setting": "zero-shot",
                    "seed": seed,
                    "eval_lang": t,
                    "f1": 0.0,
                    "perturbation": "mask",
                }
            )  # perturbed rows must not enter the clean drop
    return pd.DataFrame(rows)


def test_missing_transfer_results_is_a_clear_error(tmp_path):
    with pytest.raises(drop.NoTransferResults, match=str(tmp_path.resolve())) as exc:
        drop.load_eval_tables("**/eval*.csv", tmp_path)
    assert "eval*.csv" in str(exc.value) and "training" in str(exc.value)


def test_drops_and_correlations(tmp_path):
    true_drop = {("a", "x"): 0.1, ("b", "x"): 0.3, ("a", "y"): 0.2, ("b", "y"): 0.5, ("c", "y"): 0.4}
    native = {"x": 0.9, "y": 0.8}
    df = _eval_rows(true_drop, native)
    (tmp_path / "04").mkdir()
    df.to_csv(tmp_path / "04" / "eval_clean.csv", index=False)
    pd.DataFrame({"f1": [1.0]}).to_csv(tmp_path / "other.csv", index=False)  # not matched by the glob
    ev = drop.load_eval_tables("**/eval*.csv", tmp_path)
    drops = drop.transfer_drops(ev)
    got = {(r.source, r.target): r.drop for r in drops.itertuples()}
    assert got == pytest.approx(true_drop)
    assert (drops["native_seeds"] == 2).all()
    # divergences: one measure tracks the drop monotonically (ρ = 1), one is reversed, one is constant
    pairs = list(true_drop)
    overlap = {("a", "x"): 0.8, ("b", "x"): 0.75, ("a", "y"): 0.7, ("b", "y"): 0.4, ("c", "y"): 0.6}
    div = pd.DataFrame(
        [{"source": s, "target": t, "measure": "good.js", "value": true_drop[(s, t)] ** 2} for s, t in pairs]
        + [{"source": s, "target": t, "measure": "entity_overlap", "value": overlap[(s, t)]} for s, t in pairs]
        + [{"source": s, "target": t, "measure": "flat.js", "value": 0.5} for s, t in pairs]
    )
    joined = drop.join_divergences(drops, div)
    corr = drop.correlate(joined, n_resamples=500, seed=1)
    good = corr.set_index("measure").loc["good.js"]
    x = np.array([true_drop[p] ** 2 for p in pairs])
    y = np.array([true_drop[p] for p in pairs])
    assert good["spearman"] == pytest.approx(1.0)
    assert good["pearson"] == pytest.approx(stats.pearsonr(x, y)[0])
    assert good["rank"] == 1 and good["pearson_low"] <= good["pearson"] <= good["pearson_high"]
    ov = corr.set_index("measure").loc["entity_overlap"]
    xo = np.array([overlap[p] for p in pairs])
    assert ov["spearman"] == pytest.approx(stats.spearmanr(xo, y)[0]) and ov["kind"] == "overlap"
    assert ov["spearman"] == pytest.approx(-0.9)  # by hand: one swapped neighbour pair, 1 − 6·2/(5·24)
    assert ov["spearman_low"] <= ov["spearman"] <= ov["spearman_high"]
    flat = corr.set_index("measure").loc["flat.js"]
    assert math.isnan(flat["spearman"]) and "constant" in flat["note"] and pd.isna(flat["rank"])
    assert list(drop.best_predictors(corr)["measure"]) == ["good.js"]
    # reproducible
    again = drop.correlate(joined, n_resamples=500, seed=1)
    pd.testing.assert_frame_equal(corr, again)
    # the figure
    from xner.figures import save_figure

    fig = drop.plot_drop_scatter(joined, ["good.js", "entity_overlap"], corr=corr)
    assert all(p.stat().st_size > 0 for p in save_figure(fig, tmp_path / "scatter"))
    # the whole step
    j2, c2 = drop.predict_drop(div, "**/eval*.csv", tmp_path, n_resamples=500, seed=1)
    pd.testing.assert_frame_equal(c2[c2["outcome"] == "drop"].reset_index(drop=True), corr)
    rel = c2[c2["outcome"] == "relative_drop"].set_index("measure")
    assert set(rel.index) == set(corr["measure"]) and rel.loc["good.js", "n_pairs"] == 5
    assert drops["relative_drop"].to_numpy() == pytest.approx((drops["drop"] / drops["native_f1"]).to_numpy())
    # restricted to some pairs: only their rows count; pairs without results say so instead of failing to join
    first3 = [f"{s}-{t}" for s, t in pairs[:3]]
    j3, _ = drop.predict_drop(div, "**/eval*.csv", tmp_path, n_resamples=200, seed=1, pairs=first3)
    assert sorted(set(j3["source"] + "-" + j3["target"])) == sorted(first3)
    with pytest.raises(drop.NoTransferResults, match="zz-yy"):
        drop.predict_drop(div, "**/eval*.csv", tmp_path, n_resamples=200, seed=1, pairs=["zz-yy"])
    # permutation p-values: a perfect monotone relation over 5 pairs is as extreme as 2 of 120 pairings can be
    assert 2 / 120 * 0.8 < good["spearman_p"] < 2 / 120 * 1.2
    assert 0 < ov["spearman_p"] <= 1 and good["pearson_p"] <= 0.05


def test_drop_errors(tmp_path):
    df = _eval_rows({("a", "x"): 0.1, ("b", "x"): 0.2}, {"x": 0.9})
    drops = drop.transfer_drops(df)
    div = pd.DataFrame(
        [{"source": s, "target": "x", "measure": "m.js", "value": v} for s, v in (("a", 0.1), ("b", 0.2))]
    )
    with pytest.raises(dv.DivergenceError, match="at least 3"):
        drop.correlate(drop.join_divergences(drops, div))
    with pytest.raises(dv.DivergenceError, match="not in the divergence table"):
        drop.join_divergences(drops, div, ["nope.js"])
    with pytest.raises(dv.DivergenceError, match="native"):
        drop.transfer_drops(df[df["setting"] != "native"])
    with pytest.raises(dv.DivergenceError, match="zero-shot"):
        drop.transfer_drops(df[df["setting"] != "zero-shot"])
    bad = tmp_path / "eval_bad.csv"
    df.drop(columns=["lenient_f1"]).to_csv(bad, index=False)
    with pytest.raises(dv.DivergenceError, match="lenient_f1"):
        drop.load_eval_tables("eval*.csv", tmp_path)
    # a transfer pair whose target has no native result is reported, not silently lost
    extra = _eval_rows({("a", "z"): 0.1}, {"z": 0.5})
    extra = extra[extra["setting"] != "native"]
    d2 = drop.transfer_drops(pd.concat([df, extra]))
    assert d2.attrs["unmatched"] == ["a-z (m, wikiann)"]
