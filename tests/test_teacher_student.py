"""The teacher–student replication runner (CoNLL-2003 en → CoNLL-2002 es/nl): its configs, scores and tables.
Training is replaced by fixed predictors here; the real runs are in bench/RESULTS.md."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from xner.data import from_lists
from xner.labels import CONLL
from xner.methods import teacher_student as ts
from xner.methods.distill import DistillConfig
from xner.methods.teacher_student import (
    PUBLISHED,
    TeacherStudentConfig,
    TeacherStudentError,
    merge_tables,
    method_configs,
    run_teacher_student,
    summary_markdown,
    summary_table,
    write_outputs,
)

GOLD = [["B-PER", "I-PER", "O"], ["O", "B-LOC"], ["B-ORG", "O", "B-MISC"], ["O", "O"]] * 5


def _loader(lang, split, dataset):
    assert dataset == "conll2002,en=conll2003"
    toks = [[f"{lang}{i}-{j}" for j in range(len(t))] for i, t in enumerate(GOLD)]
    return from_lists(toks, GOLD, lang=lang, label_set=CONLL)


def test_rows_teachers_and_datasets():
    cfg = TeacherStudentConfig(seeds=(3,), max_train_samples=10, epochs=1, learning_rate=1e-3)
    mcs = method_configs(cfg, "es", 3)
    assert list(mcs) == ["direct", "single-source", "multi-source"]
    assert mcs["direct"].method == "direct" and mcs["direct"].used_sources == ("en",)
    assert mcs["single-source"].method == "distill" and mcs["single-source"].used_sources == ("en",)
    assert mcs["multi-source"].used_sources == ("en", "nl")
    assert all(m.dataset == "conll2002,en=conll2003" and m.seed == 3 and m.epochs == 1 for m in mcs.values())
    assert method_configs(cfg, "nl", 3)["multi-source"].used_sources == ("en", "es")
    # the direct model is the single-source teacher: the same cached folder for both targets
    assert mcs["direct"].folder_name() == method_configs(cfg, "nl", 3)["direct"].folder_name()


def test_teacher_settings_and_student_epochs_from_the_command_line(capsys):
    """``--teacher-learning-rate nl=2e-4 --teacher-epochs nl=8`` set that teacher (and the direct row, when they
    name the source) alone; a malformed value is refused, saying what was expected."""
    argv = ["--teacher-learning-rate", "nl=2e-4", "en=1e-4", "--teacher-epochs", "nl=8", "--student-epochs", "6"]
    a = ts._parser().parse_args(argv)
    settings = ts.teacher_settings(a.teacher_learning_rate, a.teacher_epochs)
    assert settings == {"nl": {"learning_rate": 2e-4, "epochs": 8}, "en": {"learning_rate": 1e-4}}
    assert a.student_epochs == 6 and ts._parser().parse_args([]).student_epochs == DistillConfig().epochs
    assert ts.teacher_settings(None, None) is None
    d = DistillConfig(teacher_settings=settings)
    mcs = method_configs(TeacherStudentConfig(learning_rate=5e-4, epochs=3, distill=d), "es", 0)
    assert (mcs["direct"].learning_rate, mcs["direct"].epochs, mcs["direct"].method) == (1e-4, 3, "direct")
    assert mcs["direct"].folder_name() == mcs["single-source"].teacher("en").folder_name()
    nl = mcs["multi-source"].teacher("nl")
    assert (nl.learning_rate, nl.epochs) == (2e-4, 8)
    assert all(m.learning_rate == 5e-4 for r, m in mcs.items() if r != "direct")  # the students' shared rate
    for flag, bad in (("rate", "nl"), ("rate", "=1e-4"), ("rate", "nl=-1"), ("rate", "nl=fast"), ("epochs", "nl=2.5")):
        with pytest.raises(SystemExit):
            ts._parser().parse_args([f"--teacher-{'learning-rate' if flag == 'rate' else 'epochs'}", bad])
        assert "expected LANG=VALUE" in capsys.readouterr().err


def test_bad_settings_are_refused():
    with pytest.raises(TeacherStudentError, match="≥ 2 targets"):
        TeacherStudentConfig(targets=("es",))
    with pytest.raises(TeacherStudentError, match="also a target"):
        TeacherStudentConfig(targets=("en", "es"))
    with pytest.raises(TeacherStudentError, match="expected 'direct'"):
        TeacherStudentConfig(rows=("single-source",))
    with pytest.raises(TeacherStudentError, match="not among the targets"):
        TeacherStudentConfig(only=("de",))
    TeacherStudentConfig(targets=("es",), rows=("direct", "single-source"))


def _fake_train(quality):
    """A train_method stand-in: the predictor drops the entities of some sentences, more for worse rows."""

    def train(mc, models_dir, loader=None, log=None):
        keep = quality[(mc.method, len(mc.used_sources))]

        def predict(tokens):
            return [g if i % 4 < keep else ["O"] * len(g) for i, g in enumerate(GOLD[: len(tokens)])]

        return SimpleNamespace(spec=SimpleNamespace(predictor=predict), info={}, seconds=1.0, path=Path("m"))

    return train


def test_scores_paired_tests_and_tables(monkeypatch, tmp_path):
    # direct finds the entities of sentence 0 of every 4, single-source of 0-1, multi-source all
    monkeypatch.setattr(ts, "train_method", _fake_train({("direct", 1): 1, ("distill", 1): 2, ("distill", 2): 4}))
    cfg = TeacherStudentConfig(seeds=(0, 1), n_resamples=200)
    table = run_teacher_student(cfg, tmp_path, loader=_loader)
    assert len(table) == 2 * 2 * 3
    es = table[(table["target"] == "es") & (table["seed"] == 0)].set_index("row")
    assert es.loc["multi-source", "f1"] == pytest.approx(1.0)
    assert es.loc["direct", "f1"] < es.loc["single-source", "f1"] < 1.0
    assert np.isnan(es.loc["direct", "delta_vs_direct"])
    d = es.loc["single-source"]
    assert d["delta_vs_direct"] == pytest.approx(d["f1"] - es.loc["direct", "f1"])
    assert d["delta_low"] <= d["delta_vs_direct"] <= d["delta_high"]
    assert es.loc["direct", "published_f1"] == PUBLISHED[("es", "direct")]
    s = summary_table(table).set_index(["target", "row"])
    assert s.loc[("nl", "multi-source"), "seeds"] == 2
    assert s.loc[("nl", "multi-source"), "published_delta"] == pytest.approx(81.33 - 77.57)
    md = summary_markdown(summary_table(table))
    assert "| es | direct | 2 |" in md and "74.96" in md and "(2/2)" in md
    only_nl = run_teacher_student(
        TeacherStudentConfig(seeds=(0,), only=("nl",), n_resamples=50), tmp_path, loader=_loader
    )
    assert set(only_nl["target"]) == {"nl"} and "en+es" in set(only_nl["teachers"])
    written = write_outputs(table, tmp_path / "r", tmp_path / "f")
    assert {p.name for p in written} >= {"teacher_student.csv", "teacher_student_summary.md", "teacher_student.png"}


def test_runs_split_over_jobs_merge(monkeypatch, tmp_path):
    monkeypatch.setattr(ts, "train_method", _fake_train({("direct", 1): 1, ("distill", 1): 2, ("distill", 2): 4}))
    for t in ("es", "nl"):
        cfg = TeacherStudentConfig(seeds=(0,), only=(t,), n_resamples=50)
        write_outputs(run_teacher_student(cfg, tmp_path, loader=_loader), tmp_path / t)
    merged = merge_tables([tmp_path / "es", tmp_path / "nl"])
    assert sorted(set(merged["target"])) == ["es", "nl"] and len(merged) == 6
    assert set(summary_table(merged)["row"]) == {"direct", "single-source", "multi-source"}
    with pytest.raises(FileNotFoundError, match="run those jobs first"):
        merge_tables([tmp_path / "es", tmp_path / "de"])


def test_models_are_trained_with_the_recipe():
    """Default: e5-small as the offline study trains it (bf16, lowest 6 layers frozen); ``scale``: scale.yaml."""
    from xner.methods.config import recipe_settings

    offline = method_configs(TeacherStudentConfig(num_threads=1), "es", 0)
    want = recipe_settings("e5-small")
    for mc in offline.values():
        assert {k: getattr(mc, k) for k in want} == want and mc.num_threads == 1
    scale = method_configs(TeacherStudentConfig(recipe="scale", batch_size=8), "es", 0)["direct"]
    assert (scale.bf16, scale.freeze_layers, scale.batch_size) == (False, 0, 8)
    assert scale.learning_rate == recipe_settings("e5-small", "scale")["learning_rate"]
    with pytest.raises(TeacherStudentError, match="unknown recipe"):
        TeacherStudentConfig(recipe="fast")
