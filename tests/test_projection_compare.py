"""The data- vs model-transfer comparison on a tiny synthetic pair with an identity translator and CRFs."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from xner.data import from_lists
from xner.projection.align import StringAligner
from xner.projection.compare import (
    TEST_METHOD_NAMES,
    compare_transfer,
    comparison_figure,
    main,
    read_tables,
    summarise,
    translate_test_tagger,
    verdict,
)
from xner.projection.project import ProjectionConfig
from xner.projection.translate import IdentityTranslator, detokenize
from xner.signature import write_table

NAMES = ["Ali", "Siti", "Budi", "Ani", "Joko", "Dewi"]
PLACES = ["Jakarta", "Bandung", "Medan", "Surabaya"]


def _sentences(n: int, seed: int):
    rng = random.Random(seed)
    toks, tags = [], []
    for _ in range(n):
        name, place = rng.choice(NAMES), rng.choice(PLACES)
        if rng.random() < 0.5:
            toks.append([name, "pergi", "ke", place, "."])
            tags.append(["B-PER", "O", "O", "B-LOC", "O"])
        else:
            toks.append(["di", place, "ada", name, "dan", "teman"])
            tags.append(["O", "B-LOC", "O", "B-PER", "O", "O"])
    return toks, tags


def _loader(lang, split, dataset="wikiann"):
    toks, tags = _sentences({"train": 60, "dev": 10, "test": 20}[split], seed=hash((lang, split)) % 1000)
    return from_lists(toks, tags, lang=lang, label_set="wikiann")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "cache"))


def test_identity_translation_makes_translate_test_equal_zero_shot(tmp_path):
    # every sentence translates to itself: translate-test with a perfect (string) alignment must give exactly
    # the zero-shot predictions, and translate-train the source data again
    texts = {}
    for lang in ("id", "ms"):
        for split in ("train", "test"):
            for t in _loader(lang, split)["tokens"]:
                texts[detokenize(t)] = detokenize(t)
    df = compare_transfer(
        "id-ms",
        models=["crf"],
        seeds=[0],
        translator=IdentityTranslator(texts),
        aligners={"string": StringAligner()},
        methods=[ProjectionConfig(method="heuristic"), ProjectionConfig(method="ngram", solver="greedy")],
        train_aligner=StringAligner(),
        n_train=60,
        loader=_loader,
        log=lambda _: None,
    )
    assert list(df.setting) == [
        "zero-shot",
        "translate-test",
        "translate-test",
        "translate-train",
        "translate-train+source",
    ]
    zs = df[df.setting == "zero-shot"].iloc[0]
    tt = df[df.setting == "translate-test"]
    assert (tt.f1 == zs.f1).all() and (tt.delta_vs_zero_shot == 0).all()
    assert df[df.setting == "translate-train+source"].n_train_sentences.iloc[0] == 120
    assert pd.isna(zs.delta_vs_zero_shot) and zs.f1_low <= zs.f1 <= zs.f1_high
    assert len(verdict(df)) == 1 and "id→ms, crf" in verdict(df)[0]
    assert summarise(df).n_seeds.tolist() == [1] * 5
    # identical predictions: no seed is significantly better or worse; a seed that is counts in its direction
    assert summarise(df).n_better.sum() == summarise(df).n_worse.sum() == 0
    two = pd.concat([df, df.assign(seed=1, p_value=df.p_value.fillna(1) * 0, delta_vs_zero_shot=-0.1)])
    two.loc[two.setting == "zero-shot", ["p_value", "delta_vs_zero_shot"]] = float("nan")
    s2 = summarise(two)
    assert s2.n_worse.tolist() == [0, 1, 1, 1, 1] and s2.n_better.sum() == 0
    assert "no significant winner" in verdict(two)[0] and "better in 0, worse in 1)" in verdict(two)[0]
    # a winner only when every seed's own test agrees: both seeds significantly worse → model transfer wins
    both = pd.concat([two[two.seed == 1].assign(seed=0), two[two.seed == 1]])
    assert verdict(both)[0].startswith("id→ms, crf: model transfer wins") and "in all 2 seed(s)" in verdict(both)[0]
    mixed = pd.concat([two[two.seed == 1], two[two.seed == 1].assign(seed=2, delta_vs_zero_shot=0.1)])
    assert "seeds disagree" in verdict(mixed)[0]
    fig = comparison_figure(df)
    assert len(fig.axes) == 1
    # the workflow's summary step: tables of two pairs → summary, verdicts, figure
    write_table(df, tmp_path / "id-ms.csv", {"stage": "datatransfer"})
    other = df.assign(pair="nl-af", source="nl", target="af")
    write_table(other, tmp_path / "nl-af.csv", {"stage": "datatransfer"})
    # the same languages on other data (en-es-conll beside en-es) stay a pair of their own; a table written
    # before the pair column takes its pair from the file name
    write_table(df.drop(columns="pair").assign(source="nl", target="af"), tmp_path / "nl-af-news.csv", {})
    main(["--summarise", str(tmp_path), "--summary", str(tmp_path / "summary.csv"), "--figure", str(tmp_path / "fig")])
    summ = pd.read_csv(tmp_path / "summary.csv")
    assert len(summ) == 15 and set(summ.source) == {"id", "nl"} and (summ.n_seeds == 1).all()
    assert list(dict.fromkeys(summ.pair_label)) == ["id→ms", "nl→af (news)", "nl→af"]
    lines = (tmp_path / "summary.txt").read_text().splitlines()
    assert len(lines) == 3 and lines[1].startswith("nl→af (news), crf:")
    assert (tmp_path / "fig.pdf").is_file() and (tmp_path / "fig.png").is_file()
    assert len(read_tables([tmp_path])) == 3 * len(df)  # summary.csv is not read back as a pair table


def test_bad_pair_is_refused():
    with pytest.raises(ValueError, match="<source>-<target>"):
        compare_transfer("idms", loader=_loader)


def test_threads_bind_the_whole_run_not_only_training():
    # the e5 aligner runs before any training: --threads must hold from the start (the workflow passes it)
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with pytest.raises(ValueError, match="<source>-<target>"):
            main(["--pair", "idms", "--threads", "1"])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_name_handling_counts_kept_names_and_scripts():
    from xner.projection.compare import name_handling

    out = name_handling(
        [["Imran", "Khan", "aya"], ["Lahore", "mein"]],
        [["B-PER", "I-PER", "O"], ["B-LOC", "O"]],
        [["इमरान", "Khan", "आया"], ["Lahore", "में"]],
    )
    assert out["entity_words"] == 3
    assert out["entity_words_kept_verbatim"] == 2 / 3
    assert out["translation_words_latin"] == 2 / 5 and out["translation_words_devanagari"] == 3 / 5


class _Reversed:
    """Toy aligner: the translation is the target sentence in reverse word order."""

    name = "reversed"

    def align(self, src, tgt):
        return [frozenset((i, len(t) - 1 - i) for i in range(len(s))) for s, t in zip(src, tgt, strict=True)]


def test_translate_test_tagger_projects_labels_back_through_a_reordering_translation():
    target = [["kemarin", "Ali", "tiba", "di", "Medan"], ["hujan", "turun"]]
    mt = IdentityTranslator({detokenize(t): detokenize(t[::-1]) for t in target})
    seen = []

    def source_tagger(sentences):
        seen.extend(sentences)
        names = {"Ali": "B-PER", "Medan": "B-LOC"}
        return [[names.get(w, "O") for w in s] for s in sentences]

    for method in ("heuristic", "ngram-greedy"):
        seen.clear()
        tag = translate_test_tagger(source_tagger, mt, src_lang="id", tgt_lang="ms", method=method, aligner=_Reversed())
        assert tag(target) == [["O", "B-PER", "O", "O", "B-LOC"], ["O", "O"]], method
        assert seen[:2] == [["Medan", "di", "tiba", "Ali", "kemarin"], ["turun", "hujan"]]  # tagged the translation


def test_translate_test_tagger_refuses_unknown_methods_and_eflomal_without_target_text():
    assert set(TEST_METHOD_NAMES) == {"heuristic", "ngram-ilp", "ngram-greedy", "model-ilp", "heuristic+bt"}
    mt = IdentityTranslator({})
    with pytest.raises(ValueError, match="unknown translate-test method 'mark'"):
        translate_test_tagger(lambda s: s, mt, src_lang="id", tgt_lang="ms", method="mark")
    with pytest.raises(ValueError, match="needs target_train"):
        translate_test_tagger(lambda s: s, mt, src_lang="id", tgt_lang="ms", aligner="eflomal")
