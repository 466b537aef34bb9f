"""The methods comparison: configuration and caching, paired drop tests, the suite over methods, the figure."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from xner.methods import (
    CachedPredictor,
    MethodConfig,
    MethodError,
    drop_difference,
    evaluate_methods,
    plot_method_heatmap,
    robustness_summary,
    train_method,
)
from xner.robustness.suite import ModelSpec


def test_config_validation_and_cache_key():
    with pytest.raises(MethodError):
        MethodConfig(method="nope", target="ms", sources=("id",))
    with pytest.raises(MethodError):
        MethodConfig(method="multi-source", target="ms", sources=("id",))
    with pytest.raises(MethodError):
        MethodConfig(method="direct", target="ms", sources=("ms",))
    a = MethodConfig(method="direct", target="ms", sources=("id",))
    b = MethodConfig(method="direct", target="af", sources=("id",))
    assert a.folder_name() == b.folder_name()  # a direct model does not depend on the target
    c = MethodConfig(method="distill", target="ms", sources=("nl", "id"))
    d = MethodConfig(method="distill", target="af", sources=("id", "nl"))
    assert c.used_sources == ("id", "nl") and c.folder_name() != d.folder_name()
    assert MethodConfig(method="direct", target="ms", sources=("id",), epochs=2).key() != a.key()


def test_num_threads_reaches_training_but_not_the_cache_key():
    with pytest.raises(MethodError, match="num_threads"):
        MethodConfig(method="direct", target="ms", sources=("id",), num_threads=0)
    for method in ("direct", "distill", "madx"):
        a = MethodConfig(method=method, target="ms", sources=("id",))
        one = MethodConfig(method=method, target="ms", sources=("id",), num_threads=1)
        assert one.folder_name() == a.folder_name()  # a model trained on 1 or 2 threads is the same cached model
        assert one.train_config().num_threads == 1 and a.train_config().num_threads is None


def test_cached_predictor_calls_once():
    calls = []

    def pred(tokens):
        calls.append(1)
        return [["O"] * len(s) for s in tokens]

    c = CachedPredictor(pred)
    x = [["a", "b"], ["c"]]
    assert c.predict(x) == c.predict([list(s) for s in x]) == [["O", "O"], ["O"]]
    assert len(calls) == 1


def test_drop_difference_signs():
    gold = [["B-PER", "O"], ["B-LOC", "O"], ["O", "B-ORG"]] * 5
    perfect = [list(s) for s in gold]
    none = [["O", "O"]] * len(gold)
    # a keeps its F1 under perturbation, b loses all of it: a is more robust (negative drop difference)
    r = drop_difference(gold, perfect, perfect, gold, perfect, none, n_resamples=200)
    assert r["f1_delta"] == pytest.approx(1.0) and r["drop_delta"] == pytest.approx(-1.0)
    assert r["drop_delta_high"] < 0 and r["drop_delta_p"] < 0.05
    same = drop_difference(gold, perfect, perfect, gold, perfect, perfect, n_resamples=50)
    assert same["drop_delta"] == 0.0 and same["drop_delta_p"] == 1.0
    with pytest.raises(MethodError):
        drop_difference(gold, perfect, perfect, gold[:3], perfect[:3], perfect[:3])
    r2 = drop_difference(gold, perfect, perfect, gold[:4], perfect[:4], none[:4], same_sentences=False, n_resamples=100)
    assert r2["drop_delta"] == pytest.approx(-1.0)


def _memoriser(ds):
    """A predictor that knows the gold tags of the words of ``ds`` (by word) and says O otherwise."""
    from xner.data import tag_names

    lex = {w: t for s, g in zip(ds["tokens"], tag_names(ds), strict=True) for w, t in zip(s, g, strict=True)}
    return lambda tokens: [[lex.get(w, "O") for w in s] for s in tokens]


def test_evaluate_methods_table_comparison_and_figure(fixture_data_dir, tmp_path):
    from xner.data import load_split
    from xner.figures import save_figure

    test = load_split("ms", "test")
    models = {
        "direct": ModelSpec(
            _memoriser(load_split("id", "train")), source="id", target="ms", setting="zero-shot", model="m"
        ),
        "lora": ModelSpec(_memoriser(test), source="id", target="ms", setting="adapter-lora", model="m"),
    }
    ev = evaluate_methods(models, "ms", ["id"], ["mask", "typos"], n_resamples=50, max_test_samples=None)
    t = ev.table
    assert set(t["method"]) == {"direct", "lora"}
    assert set(t["perturbation"]) == {"clean", "mask", "typos"}
    assert any("domain shift" in n for n in ev.notes)  # no other-domain data for id/ms: said, not hidden
    clean = t[t["perturbation"] == "clean"].set_index("method")["f1"]
    assert clean["lora"] == pytest.approx(1.0) and clean["lora"] > clean["direct"]
    comp = ev.comparison
    assert set(comp["method"]) == {"lora"} and set(comp["perturbation"]) <= {"mask", "typos"}
    assert {"drop_delta", "drop_delta_low", "drop_delta_high", "drop_delta_p", "f1_delta"} <= set(comp.columns)
    summ = robustness_summary(comp)
    assert len(summ) == comp["perturbation"].nunique()
    from xner.methods import summary_markdown

    md = summary_markdown(ev)
    assert "| lora | 1.000 [1.000, 1.000] |" in md  # the memoriser of the test set is perfect on clean text
    assert md.count("| ms | ") == comp["perturbation"].nunique() and "| lora | " in md.split("Against")[1]
    paths = save_figure(plot_method_heatmap(t), tmp_path / "fig")
    assert all(p.stat().st_size > 0 for p in paths)


def test_train_method_caches(fixture_data_dir, tmp_path):
    from xner.data import load_split
    from xner.modeling.encoders.mini import MiniConfig, pretrain

    text = [list(s) for lang in ("id", "ms") for s in load_split(lang, "train")["tokens"]] * 3
    enc = str(
        pretrain(
            text,
            MiniConfig(size="tiny", epochs=0, vocab_size=120, min_frequency=1, progress=False, num_threads=1),
            tmp_path / "enc",
        )
    )
    mc = MethodConfig(method="direct", target="ms", sources=("id",), encoder=enc, epochs=1, batch_size=4)
    first = train_method(mc, tmp_path / "models")
    second = train_method(mc, tmp_path / "models")
    assert not first.cached and second.cached and first.path == second.path
    assert second.spec.setting == "zero-shot" and second.spec.source == "id"
    toks = [list(s) for s in load_split("ms", "test")["tokens"]]
    assert first.spec.predictor.predict(toks) == second.spec.predictor.predict(toks)


def test_scale_config_lists_offline_and_online_encoders():
    from xner.methods import scale_encoders

    off = scale_encoders()
    names = [e["name"] for e in off]
    assert names[:3] == ["mini-tiny", "mini-small", "mini-base"] and "e5-small" in names
    full = [e["name"] for e in scale_encoders(online=True)]
    assert {"bert-base-multilingual-cased", "xlm-roberta-base", "xlm-roberta-large", "google/mt5-base"} <= set(full)


def test_run_comparison_puts_scale_encoders_in_the_same_suite(fixture_data_dir, tmp_path):
    from xner.data import load_split
    from xner.methods import run_comparison
    from xner.modeling.encoders.mini import MiniConfig, pretrain

    text = [list(s) for lang in ("id", "ms") for s in load_split(lang, "train")["tokens"]] * 3
    encs = [
        str(
            pretrain(
                text,
                MiniConfig(
                    size="tiny", epochs=0, vocab_size=120, min_frequency=1, progress=False, num_threads=1, seed=seed
                ),
                tmp_path / f"enc{seed}",
            )
        )
        for seed in (0, 1)
    ]
    ev, cost = run_comparison(
        [("ms", ["id"])],
        ["direct"],
        encoder=encs[0],
        epochs=1,
        max_train_samples=None,
        max_eval_samples=None,
        max_test_samples=None,
        perturbations=["mask"],
        n_resamples=20,
        learning_rate=1e-3,
        batch_size=4,
        scale=[{"name": encs[1], "learning_rate": 2e-3}],
        models_dir=tmp_path / "models",
        results_dir=tmp_path / "res",
        figures_dir=tmp_path / "fig",
        log=lambda m: None,
    )
    assert set(ev.table["variant"]) == {"direct", f"direct@{encs[1]}"}
    assert set(ev.comparison["method"]) == {f"direct@{encs[1]}"} and set(ev.comparison["baseline"]) == {"direct"}
    assert list(cost["encoder"]) == encs and not cost["cached"].any()
    assert (tmp_path / "res" / "methods_suite.csv").is_file() and (tmp_path / "fig" / "methods_heatmap.png").is_file()


def test_summary_leaves_out_methods_that_learned_too_little_to_lose(fixture_data_dir):
    from xner.data import load_split
    from xner.methods import summary_markdown

    test = load_split("ms", "test")
    models = {
        "direct": ModelSpec(_memoriser(test), source="id", target="ms", setting="zero-shot", model="m"),
        "lora": ModelSpec(
            lambda tokens: [["O"] * len(s) for s in tokens], source="id", target="ms", setting="adapter-lora", model="m"
        ),
    }
    ev = evaluate_methods(models, "ms", ["id"], ["foreign_names"], n_resamples=50, max_test_samples=None)
    assert ev.comparison["drop_delta"].iloc[0] < 0  # an all-O model "loses" nothing under perturbation
    md = summary_markdown(ev)
    assert "Left out for a clean F1 significantly below the baseline's: lora on ms (0.000 vs 1.000)" in md
    assert "| ms | foreign_names | lora |" not in md and "none is ranked" in md


def test_encoder_settings_take_the_given_then_the_scale_config_then_the_default(tmp_path):
    from xner.methods import encoder_settings

    assert encoder_settings("e5-small") == {"learning_rate": 1e-4, "freeze_embeddings": True, "epochs": 2}
    mini = encoder_settings("mini-tiny")
    assert mini["learning_rate"] == 1e-3 and mini["freeze_embeddings"] is False and mini["epochs"] == 10
    assert encoder_settings("mini-tiny", epochs=3)["epochs"] == 3
    assert encoder_settings("some/hub-model", freeze_embeddings=False)["freeze_embeddings"] is False


@pytest.mark.slow
def test_notebook_07_runs_headless_with_one_parameter_changed(fixture_data_dir, tmp_path):
    from xner.data import load_split
    from xner.modeling.encoders.mini import MiniConfig, pretrain
    from xner.runs import run_stage

    text = [list(s) for lang in ("id", "ms") for s in load_split(lang, "train")["tokens"]] * 3
    enc = str(
        pretrain(
            text,
            MiniConfig(size="tiny", epochs=0, vocab_size=120, min_frequency=1, progress=False, num_threads=1),
            tmp_path / "enc",
        )
    )
    common = {
        "encoder": enc,
        "sources": ["id"],
        "learning_rate": 1e-3,
        "batch_size": 4,
        "perturbations": ["mask"],
        "n_resamples": 20,
        "models_dir": str(tmp_path / "models"),
        "max_test_samples": None,
    }
    for method in ("direct", "lora"):
        params = {
            **common,
            "method": method,
            "results_dir": str(tmp_path / "res" / method),
            "figures_dir": str(tmp_path / "fig" / method),
        }
        out = run_stage(
            "07",
            pair="id-ms",
            parameters=params,
            results_root=tmp_path / "runs",
            html=False,
            progress=False,
            variant=method,
        )
        assert out.is_file()
        from conftest import png_outputs

        assert png_outputs(out) == 1  # the method × perturbation heatmap, shown in the executed notebook
    import pandas as pd

    suite = pd.read_csv(next((tmp_path / "res" / "lora").glob("methods_lora_*_suite.csv")))
    assert set(suite["method"]) == {"direct", "lora"}
    assert any((tmp_path / "fig" / "lora").glob("methods_heatmap_lora_*.png"))


def test_recipe_fields_reach_training_and_leave_old_keys_alone():
    with pytest.raises(MethodError, match="freeze_layers"):
        MethodConfig(method="direct", target="ms", sources=("id",), freeze_layers=-1)
    a = MethodConfig(method="direct", target="ms", sources=("id",))
    # at their defaults the two later fields are not in the key: models cached before them keep their folders
    legacy = {k: v for k, v in dataclasses.asdict(a).items() if k not in ("freeze_layers", "bf16", "num_threads")}
    legacy.update(sources=["id"])
    for k in ("target", "lora", "language_lora", "distill", "mlm", "max_unlabeled"):
        legacy.pop(k)
    assert a.key() == hashlib.sha256(json.dumps(legacy, sort_keys=True, default=str).encode()).hexdigest()[:10]
    r = MethodConfig(method="direct", target="ms", sources=("id",), freeze_layers=6, bf16=True)
    assert r.key() != a.key() and len({r.key(), dataclasses.replace(r, bf16=False).key(), a.key()}) == 3
    tc = r.train_config()
    assert tc.freeze_layers == 6 and tc.bf16 is True


def test_recipe_settings_offline_for_e5_scale_for_the_rest(tmp_path):
    from xner.methods.config import recipe_settings

    offline = tmp_path / "offline.yaml"
    offline.write_text(
        "stages:\n  04_training:\n    setting: [native]\n    freeze_embeddings: true\n    freeze_layers: 4\n"
        "    bf16: true\n    learning_rate: 3e-4\n    batch_size: 8\n    epochs: 2\n    max_train_samples: 10\n",
        encoding="utf-8",
    )
    e5 = recipe_settings("e5-small", offline_path=offline)
    assert e5 == {
        "learning_rate": 3e-4,
        "freeze_embeddings": True,
        "freeze_layers": 4,
        "bf16": True,
        "batch_size": 8,
        "epochs": 2,
    }  # the recipe, not its sample caps
    assert recipe_settings("e5-small", offline_path=offline, epochs=5, batch_size=None)["epochs"] == 5
    mini = recipe_settings("mini-tiny", offline_path=offline)  # the recipe was not tuned for it: scale.yaml
    assert mini == {"learning_rate": 1e-3, "freeze_embeddings": False, "epochs": 10}
    assert "bf16" not in recipe_settings("e5-small", "scale")
    with pytest.raises(MethodError, match="unknown recipe"):
        recipe_settings("e5-small", "fast")
    with pytest.raises(MethodError, match="not a recipe setting"):
        recipe_settings("e5-small", dropout=0.2)
    offline.write_text("stages:\n  04_training:\n    learning_rate: 3e-4\n", encoding="utf-8")
    with pytest.raises(MethodError, match="lacks freeze_embeddings"):
        recipe_settings("e5-small", offline_path=offline)
