"""Stage 01 statistics against hand-computed values, and the notebook run headlessly."""

from __future__ import annotations

import pytest

from xner.data import load_split
from xner.inspection import language_stats, pair_overlap, span_lengths


def test_language_stats(fixture_data_dir):
    row = language_stats(load_split("ms", "test"), "ms", "test")
    # ms fixture: 3 sentences, 12 tokens; PER(2) LOC(1) | ORG(3) | LOC(2)
    assert row["sentences"] == 3 and row["tokens"] == 12 and row["entities"] == 4
    assert (row["n_PER"], row["n_ORG"], row["n_LOC"]) == (1, 1, 2)
    assert row["mean_span_length"] == pytest.approx((2 + 1 + 3 + 2) / 4)
    assert row["entities_per_sentence"] == pytest.approx(4 / 3)
    lengths = span_lengths(load_split("ms", "test"), "ms", "test")
    assert lengths.set_index(["type", "length"])["count"].to_dict() == {
        ("LOC", 1): 1,
        ("LOC", 2): 1,
        ("ORG", 3): 1,
        ("PER", 2): 1,
    }


def test_pair_overlap(fixture_data_dir):
    o = pair_overlap(load_split("id", "train"), load_split("ms", "test"), "id", "ms")
    # ms test entities: Anwar Ibrahim, Jakarta, Bank Negara Malaysia, Kuala Lumpur → only (LOC, Jakarta) seen in id
    assert o["entity_coverage"] == pytest.approx(1 / 4)
    # ms context words: tinggal di buka di → all four occurrences are in id's context vocabulary
    assert o["context_coverage"] == pytest.approx(1.0)
    assert 0 < o["token_jaccard"] < 1


def test_notebook_01_headless_on_fixture(fixture_data_dir, tmp_path):
    from xner.runs import run_stage

    out = run_stage(
        "01",
        pair="id-ms",
        results_root=tmp_path / "results",
        parameters={"figures_dir": str(tmp_path / "fig")},
        progress=False,
    )
    assert out.is_file() and out.with_suffix(".html").is_file()
    assert (tmp_path / "results" / "id-ms" / "01_data_inspection" / "pair_overlap.csv").is_file()
    assert (tmp_path / "fig" / "label_mix.pdf").is_file() and (tmp_path / "fig" / "span_lengths.png").is_file()
    # both figures are shown in the executed notebook and embedded in its HTML, not only written to files
    from conftest import png_outputs

    assert png_outputs(out) == 2
    assert out.with_suffix(".html").read_text(encoding="utf-8").count('src="data:image/png;base64,') == 2


def test_notebook_failure_is_loud(fixture_data_dir, tmp_path):
    from xner.runs import StageFailed, run_stage

    with pytest.raises(StageFailed, match="stage 01_data_inspection failed") as exc:
        run_stage("01", pair="id-ms", results_root=tmp_path, parameters={"splits": ["train", "nope"]}, progress=False)
    assert "failed.ipynb" in str(exc.value)
    with pytest.raises(ValueError, match="has no parameters"):
        run_stage("01", pair="id-ms", results_root=tmp_path, parameters={"epochs": 3})


@pytest.mark.realdata
def test_notebook_01_headless_on_real_data(real_data_dir, tmp_path):
    import pandas as pd

    from xner.runs import run_stage

    run_stage(
        "01", pair="nl-af", results_root=tmp_path, parameters={"figures_dir": str(tmp_path / "fig")}, progress=False
    )
    stats = pd.read_csv(tmp_path / "nl-af" / "01_data_inspection" / "language_stats.csv")
    assert set(stats["lang"]) == {"nl", "af"} and (stats["entities"] > 0).all()
