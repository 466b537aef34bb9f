"""The cross-domain scaling grid: explicit label mapping (MISC dropped on both sides with WikiANN), in-domain
references under the same mapping, drops with CIs. Training is replaced by fixed predictors here."""

from __future__ import annotations

import pytest

from xner.data import from_lists
from xner.labels import CONLL, WIKIANN
from xner.robustness.crossdomain import (
    GRID,
    CrossDomainConfig,
    CrossDomainError,
    drop_trend,
    evaluate_cells,
    map_sentences,
    summary_markdown,
    summary_table,
)

CONLL_GOLD = [["B-PER", "I-PER", "O"], ["O", "B-LOC"], ["B-ORG", "O", "B-MISC"], ["B-MISC", "O"]] * 3
WIKI_GOLD = [["B-PER", "O"], ["B-ORG", "I-ORG"], ["O", "B-LOC"]] * 4


def _loader(lang, split, dataset):
    gold, ls = (WIKI_GOLD, WIKIANN) if dataset == "wikiann" else (CONLL_GOLD, CONLL)
    toks = [[f"{dataset}:{lang}:{i}:{j}" for j in range(len(t))] for i, t in enumerate(gold)]
    return from_lists(toks, gold, lang=lang, label_set=ls)


def test_misc_is_dropped_on_both_sides_and_counted():
    tags, n = map_sentences([["B-MISC", "I-MISC", "B-PER"], ["O"]], {"MISC": None})
    assert tags == [["O", "O", "B-PER"], ["O"]] and n == 1
    assert map_sentences([["B-MISC"]], None) == ([["B-MISC"]], 0)


def _perfect_but_misses_out_of_domain(tokens):
    """Gold everywhere except on non-CoNLL-2003 sets, where it finds only PER; predicts MISC on every sentence of
    WikiANN (which a WikiANN model would never do), so the mapping must remove it."""
    out = []
    for t in tokens:
        ds, _, i = t[0].split(":")[:3]
        gold = (WIKI_GOLD if ds == "wikiann" else CONLL_GOLD)[int(i)]
        if ds == "conll2003":
            out.append(list(gold))
        else:
            pred = [g if g.endswith("PER") else "O" for g in gold]
            out.append(pred if ds != "wikiann" else ["B-MISC"] + pred[1:] if pred[0] == "O" else pred)
    return out


def test_cells_of_a_conll_model():
    cfg = CrossDomainConfig(n_resamples=200)
    rows = {
        (r["test_dataset"], r["test_lang"]): r
        for r in evaluate_cells(_perfect_but_misses_out_of_domain, cfg, "conll2003", loader=_loader)
    }
    assert set(rows) == {("conll2003", "en"), *GRID["conll2003"]}
    inside = rows[("conll2003", "en")]
    assert inside["in_domain"] and inside["f1"] == pytest.approx(1.0) and "drop" not in inside
    assert inside["labels"] == "PER ORG LOC MISC"
    wiki = rows[("wikiann", "en")]
    assert wiki["labels"].startswith("PER ORG LOC (MISC dropped")
    # predicted MISC is dropped, so only PER counts: 4 of 12 gold entities found, precision 1
    assert wiki["precision"] == pytest.approx(1.0) and wiki["recall"] == pytest.approx(4 / 12)
    assert wiki["in_domain_f1"] == pytest.approx(1.0)  # the CoNLL reference, MISC dropped too
    assert wiki["drop"] == pytest.approx(1.0 - wiki["f1"]) and wiki["drop_low"] <= wiki["drop"] <= wiki["drop_high"]
    euro = rows[("europarl", "es")]
    assert euro["labels"] == "PER ORG LOC MISC" and euro["entities_dropped"] == 0
    assert euro["f1"] == pytest.approx(2 * (3 / 15) / (1 + 3 / 15))  # 3 of 15 gold (MISC kept) found


def test_tables_and_trend():
    cfg = CrossDomainConfig(n_resamples=100)
    import pandas as pd

    rows = []
    for enc, p, f in (
        ("mini-tiny", 1.3, _perfect_but_misses_out_of_domain),
        ("e5-small", 118, lambda t: _perfect_but_misses_out_of_domain(t)),
    ):
        for r in evaluate_cells(f, cfg, "conll2003", loader=_loader):
            rows.append({**r, "encoder": enc, "params_m": p, "seed": 0})
    s = summary_table(pd.DataFrame(rows))
    assert list(dict.fromkeys(s["encoder"])) == ["mini-tiny", "e5-small"] and (s["seeds"] == 1).all()
    trend = drop_trend(s)
    assert len(trend) == len(GRID["conll2003"]) and (trend["stops_shrinking_at"] == "mini-tiny").all()
    assert "| mini-tiny | conll2003 en → wikiann en |" in summary_markdown(s)


def test_unknown_domain_is_refused():
    with pytest.raises(CrossDomainError, match="unknown train domains"):
        CrossDomainConfig(train_domains=("ontonotes",))
    with pytest.raises(CrossDomainError, match="unknown recipe"):
        CrossDomainConfig(recipe="fast")


def test_mini_text_takes_both_domains_in_equal_capped_measure():
    from xner.robustness.crossdomain import mini_text

    text = mini_text(CrossDomainConfig(max_train_samples=5), _loader)
    assert len(text) == 2 * 2 * 5  # two datasets × two languages × the cap
    assert {t[0].rsplit(":", 2)[0] for t in text} == {
        "wikiann:en",
        "wikiann:es",
        "conll2002,en=conll2003:en",
        "conll2002,en=conll2003:es",
    }


def test_e5_trains_with_the_offline_recipe_and_minis_with_their_own(monkeypatch, tmp_path):
    from xner.methods.config import recipe_settings
    from xner.robustness import crossdomain as cd

    seen = {}

    def fake_train(mc, models_dir, loader=None, log=None):
        seen[mc.encoder] = mc
        return mc

    monkeypatch.setattr(cd, "train_method", fake_train)
    monkeypatch.setattr(cd, "mini_encoder", lambda langs, size, config, text: f"/cache/mini-{size}")
    cfg = CrossDomainConfig(max_train_samples=5, num_threads=1)
    cd.train_model(cfg, "e5-small", "conll2003", 0, tmp_path, loader=_loader)
    cd.train_model(cfg, "mini-tiny", "wikiann", 0, tmp_path, loader=_loader)
    e5, mini = seen["e5-small"], seen["/cache/mini-tiny"]
    assert (e5.bf16, e5.freeze_layers, e5.batch_size) == (True, 6, recipe_settings("e5-small")["batch_size"])
    assert e5.dataset == "conll2002,en=conll2003" and e5.num_threads == 1
    assert (mini.bf16, mini.freeze_layers, mini.learning_rate, mini.batch_size) == (False, 0, 1e-3, 16)
    assert mini.dataset == "wikiann"
