"""Projection methods end to end on small hand-made parallel data: heuristic, n-gram / model candidates with
ILP and greedy matching, mark-then-translate, back-translation refinement, evaluation and translate-train."""

from __future__ import annotations

import re

import datasets
import pytest

from xner.data import from_lists, read_conll, tag_names
from xner.projection.align import StringAligner
from xner.projection.evaluate import ParallelGold, evaluate_methods, plot_projection_f1, read_parallel_gold
from xner.projection.mark import mark_then_translate, read_marked
from xner.projection.project import ProjectionConfig, project_corpus
from xner.projection.refine import refine
from xner.projection.spans import Entity, EntityOutcome, SentenceProjection
from xner.projection.translate import Translator, detokenize, tokenize
from xner.projection.translate_train import translate_train, write_translate_train

LEXICON = {
    "mr": "señor",
    "prodi": "Prodi",
    "met": "visitó",
    "the": "el",
    "european": "Europeo",
    "parliament": "Parlamento",
    "in": "en",
    "madrid": "Madrid",
    "commission": "Comisión",
    "and": "y",
    "spoke": "habló",
    ".": ".",
    "treaty": "Tratado",
    "of": "de",
    "nice": "Niza",
    "council": "Consejo",
}


class DictTranslator(Translator):
    """Word-by-word translation with one reordering rule (``European X`` -> ``X Europeo``); markers pass."""

    name = "dict"

    def __init__(self, drop_close_mark: bool = False) -> None:
        self.drop_close_mark = drop_close_mark

    def check_pair(self, src: str, tgt: str) -> None:
        pass

    def _translate(self, texts, src, tgt, markup):
        out = []
        for text in texts:
            toks = tokenize(text)
            res = [LEXICON.get(t.lower(), t) for t in toks]
            i = 0
            while i < len(res) - 1:
                if res[i] == "Europeo" and res[i + 1] not in ("[", "]"):
                    res[i], res[i + 1] = res[i + 1], res[i]
                    i += 1
                i += 1
            line = " ".join(res)
            if self.drop_close_mark:
                line = line.replace("]", "", 1)
            out.append(line)
        return out


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "cache"))


class LexiconAligner:
    """Links source word i to target word j when the lexicon translates one into the other."""

    name = "lexicon"

    def align(self, src, tgt):
        out = []
        for s, t in zip(src, tgt, strict=True):
            out.append(
                frozenset(
                    (i, j)
                    for i, a in enumerate(s)
                    for j, b in enumerate(t)
                    if LEXICON.get(a.lower(), a).lower() == b.lower()
                )
            )
        return out


SRC = [["Mr", "Prodi", "met", "the", "European", "Parliament", "in", "Madrid", "."]]
TAGS = [["O", "B-PER", "O", "O", "B-ORG", "I-ORG", "O", "B-LOC", "O"]]
TGT = [["el", "señor", "Prodi", "visitó", "el", "Parlamento", "Europeo", "en", "Madrid", "."]]
GOLD = [["O", "O", "B-PER", "O", "O", "B-ORG", "I-ORG", "O", "B-LOC", "O"]]


@pytest.mark.parametrize(
    "cfg",
    [
        ProjectionConfig(method="heuristic"),
        ProjectionConfig(method="ngram", solver="ilp"),
        ProjectionConfig(method="ngram", solver="greedy"),
        ProjectionConfig(method="ngram", solver="ilp", dice_weight=0.0, string_weight=1.0, min_score=0.5),
    ],
    ids=lambda c: c.label + ("-string" if c.string_weight else ""),
)
def test_alignment_methods_recover_the_gold(cfg):
    links = LexiconAligner().align(SRC, TGT)
    res = project_corpus(SRC, TAGS, TGT, cfg, alignments=links)
    if cfg.string_weight:  # string similarity alone finds the names, not the translated organisation
        assert res.tags[0][2] == "B-PER" and res.tags[0][8] == "B-LOC"
    else:
        assert res.tags == GOLD
    assert res.report.n_source_entities == 3
    assert res.report.projected + res.report.dropped + res.report.split == 3
    if cfg.method == "ngram":
        assert res.matching is not None and res.matching.n_problems == 1
        assert res.matching.gap == pytest.approx(0.0)


def test_model_candidates_come_from_the_predictor():
    def predictor(sentences):
        # finds "Parlamento" alone and "Madrid"; never "Prodi"
        return [["O", "O", "O", "O", "O", "B-ORG", "O", "O", "B-LOC", "O"] for _ in sentences]

    links = LexiconAligner().align(SRC, TGT)
    res = project_corpus(SRC, TAGS, TGT, ProjectionConfig(method="model"), alignments=links, predictor=predictor)
    assert res.tags[0] == ["O", "O", "O", "O", "O", "B-ORG", "O", "O", "B-LOC", "O"]
    assert res.report.dropped == 1 and res.report.dropped_reasons == {"no candidate": 1}


def test_bad_corpus_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="1 source sentences, 1 tag sequences and 2 target"):
        project_corpus(SRC, TAGS, TGT + TGT, ProjectionConfig(), alignments=[frozenset()])
    with pytest.raises(ValueError, match="sentence 0 is empty on the target side"):
        project_corpus(SRC, TAGS, [[]], ProjectionConfig(), alignments=[frozenset()])
    with pytest.raises(ValueError, match="needs word alignments"):
        project_corpus(SRC, TAGS, TGT, ProjectionConfig())
    with pytest.raises(ValueError, match="needs a NER predictor"):
        project_corpus(SRC, TAGS, TGT, ProjectionConfig(method="model"), alignments=[frozenset()])
    with pytest.raises(ValueError, match="unknown projection method"):
        ProjectionConfig(method="magic")


def test_mark_then_translate_reads_spans_and_fixes_types():
    src = [["the", "Treaty", "of", "Nice", "and", "the", "Council"]]
    tags = [["O", "B-MISC", "I-MISC", "I-MISC", "O", "O", "B-ORG"]]
    (m,) = mark_then_translate(src, tags, DictTranslator(), "en", "es")
    assert m.tokens == ["el", "Tratado", "de", "Niza", "y", "el", "Consejo"]
    assert m.tags == ["O", "B-MISC", "I-MISC", "I-MISC", "O", "O", "B-ORG"]

    class Swapper(DictTranslator):
        """Moves the marked spans around: the second one comes first (as reordering MT can)."""

        name = "swapper"

        def _translate(self, texts, src, tgt, markup):
            out = super()._translate(texts, src, tgt, markup)
            if markup:
                spans = re.findall(r"\[[^\]]*\]", out[0])
                if len(spans) == 2:
                    out[0] = out[0].replace(spans[0], "@@").replace(spans[1], spans[0]).replace("@@", spans[1])
            return out

    (sw,) = mark_then_translate(src, tags, Swapper(), "en", "es")
    # the spans arrive in the other order; fuzzy matching to the separately translated entities fixes types
    assert sw.tokens[1] == "Consejo" and sw.tags[1] == "B-ORG"
    assert sw.tags[sw.tokens.index("Tratado")] == "B-MISC"


def test_lost_markers_are_counted():
    src = [["the", "Commission", "and", "Mr", "Prodi"]]
    tags = [["O", "B-ORG", "O", "O", "B-PER"]]
    (m,) = mark_then_translate(src, tags, DictTranslator(drop_close_mark=True), "en", "es")
    statuses = sorted(o.status for o in m.outcomes)
    assert statuses == ["dropped", "projected"]
    assert [o.reason for o in m.outcomes if o.status == "dropped"] == ["markers lost"]
    tokens, spans, balanced = read_marked("a [ b [ c ] d", DictTranslator())
    assert not balanced and tokens == ["a", "b", "c", "d"] and spans == [(2, 3)]


def test_mark_method_and_back_translation_refinement_on_a_given_target():
    # the base alignment misses "Prodi"; the marked translation, aligned within Spanish, recovers it
    links = [frozenset(p for p in LexiconAligner().align(SRC, TGT)[0] if p[0] != 1)]
    base = project_corpus(SRC, TAGS, TGT, ProjectionConfig(), alignments=links)
    assert base.report.dropped == 1
    tr = DictTranslator()
    mark = project_corpus(
        SRC,
        TAGS,
        TGT,
        ProjectionConfig(method="mark"),
        translator=tr,
        src_lang="en",
        tgt_lang="es",
        mono_aligner=StringAligner(),
    )
    assert mark.tags == GOLD
    bt = project_corpus(
        SRC,
        TAGS,
        TGT,
        ProjectionConfig(method="heuristic+bt"),
        alignments=links,
        translator=tr,
        src_lang="en",
        tgt_lang="es",
    )
    assert bt.tags == GOLD and bt.report.dropped == 0


def test_refine_modes_by_hand():
    src_a, src_b = Entity("PER", 0, 1), Entity("LOC", 2, 3)
    base = [
        SentenceProjection(
            [],
            [
                EntityOutcome(0, src_a, "projected", (Entity("PER", 0, 1),)),
                EntityOutcome(0, src_b, "dropped", (), "unaligned"),
            ],
        )
    ]
    back = [
        SentenceProjection(
            [],
            [
                EntityOutcome(0, src_a, "projected", (Entity("PER", 0, 2),)),
                EntityOutcome(0, src_b, "projected", (Entity("LOC", 3, 4),)),
            ],
        )
    ]
    fill = refine(base, back, [5], mode="fill")[0]
    assert fill.tags == ["B-PER", "O", "O", "B-LOC", "O"]
    prefer = refine(base, back, [5], mode="prefer-bt")[0]
    assert prefer.tags == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    agree = refine(base, back, [5], mode="agree")[0]
    assert agree.tags == ["O"] * 5 and [o.reason for o in agree.outcomes] == ["projections disagree"] * 2


def _write(path, sents):
    path.write_text(
        "".join("".join(f"{w}\t{t}\n" for w, t in zip(*s, strict=True)) + "\n" for s in sents), encoding="utf-8"
    )
    return path


def test_parallel_gold_from_files_and_evaluation(tmp_path):
    src = _write(tmp_path / "en.tsv", [(SRC[0], TAGS[0]), (["the", "Commission", "."], ["O", "B-ORG", "O"])])
    tgt = _write(tmp_path / "es.tsv", [(TGT[0], GOLD[0]), (["la", "Comisión", "."], ["O", "B-ORG", "O"])])
    gold = read_parallel_gold(src, tgt, src_lang="en", tgt_lang="es")
    assert len(gold) == 2
    links = {"lexicon": LexiconAligner().align(gold.src_tokens, gold.tgt_tokens)}
    table, runs = evaluate_methods(gold, links, [ProjectionConfig(), ProjectionConfig(method="ngram", solver="greedy")])
    assert list(table["method"]) == ["heuristic", "ngram-greedy"]
    assert table["f1"].tolist() == pytest.approx([1.0, 1.0])
    assert {"f1_PER", "f1_ORG", "f1_LOC", "f1_low", "f1_high", "projected", "dropped"} <= set(table.columns)
    fig = plot_projection_f1(table)
    assert len(fig.axes) == 1
    short = _write(tmp_path / "short.tsv", [(TGT[0], GOLD[0])])
    with pytest.raises(ValueError, match="holds 2 sentences but .*short.tsv holds 1"):
        read_parallel_gold(src, short, src_lang="en", tgt_lang="es")
    with pytest.raises(ValueError, match="sentence 0 is empty"):
        ParallelGold([[]], [[]], [["a"]], [["O"]], "en", "es")


def test_translate_train_writes_a_standard_dataset(tmp_path):
    ds = from_lists(
        SRC + [["the", "Commission", "spoke", "."], ["Mr", "Prodi", "."]],
        TAGS + [["O", "B-ORG", "O", "O"], ["O", "B-PER", "O"]],
        lang="en",
        label_set="wikiann",
    )
    for cfg, aligner in [(ProjectionConfig(), LexiconAligner()), (ProjectionConfig(method="mark"), None)]:
        res = translate_train(ds, DictTranslator(), src_lang="en", tgt_lang="es", aligner=aligner, config=cfg)
        assert len(res.dataset) == 3
        assert res.report.n_source_entities == 5 and res.report.projected == 5
        tags = tag_names(res.dataset)
        assert tags[1] == ["O", "B-ORG", "O", "O"]
        assert res.dataset.features["ner_tags"] == ds.features["ner_tags"]
        paths = write_translate_train(res, tmp_path / cfg.label)
        back = datasets.load_from_disk(str(paths["dataset"]))
        assert back["tokens"] == res.dataset["tokens"]
        assert tag_names(read_conll(paths["conll"], label_set="wikiann")) == tags
        assert '"projected": 5' in paths["report"].read_text()
    with pytest.raises(ValueError, match="needs an aligner"):
        translate_train(ds, DictTranslator(), src_lang="en", tgt_lang="es")
    assert detokenize(SRC[0]).endswith("Madrid.")


class BagScorer:
    """A stand-in translation model: log p(candidate | entity) is 0 when the candidate holds exactly the
    lexicon translations of the entity's words (in any order), and -5 otherwise."""

    def mean_log_prob(self, sources, targets, src, tgt):
        out = []
        for s, t in zip(sources, targets, strict=True):
            want = sorted(LEXICON.get(w.lower(), w).lower() for w in s.split())
            out.append(0.0 if sorted(w.lower() for w in t.split()) == want else -5.0)
        return out


def test_translation_likelihood_scores_drive_matching():
    cfg = ProjectionConfig(method="ngram", solver="ilp", dice_weight=0.0, likelihood_weight=1.0, min_score=0.5)
    res = project_corpus(SRC, TAGS, TGT, cfg, scorer=BagScorer(), src_lang="en", tgt_lang="es")
    assert res.tags == GOLD
    with pytest.raises(ValueError, match="needs a translation scorer"):
        project_corpus(SRC, TAGS, TGT, cfg)
