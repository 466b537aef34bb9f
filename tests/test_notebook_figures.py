"""Notebooks as a person steps through them: figures shown inline, paths independent of the kernel's folder,
headers that jupytext (and JupyterLab's save) write back unchanged, `make lab`'s checks."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
from conftest import png_outputs

from xner import config
from xner.runs import INLINE_BACKEND, STAGES, _kernel_environment, notebook_source

ROOT = config.repo_root()


def test_notebook_02_headless_shows_its_figures(fixture_data_dir, tmp_path):
    from xner.runs import run_stage

    (tmp_path / "no-evals").mkdir()
    heatmaps = ["type_mix.js", "span_length.wasserstein"]
    out = run_stage(
        "02",
        pair="id-ms",
        parameters={
            "languages": ["id", "ms"],
            "pairs": ["id-ms"],
            "heatmap_measures": heatmaps,
            "dial_levels": [0.0],
            "eval_root": str(tmp_path / "no-evals"),
            "figures_dir": str(tmp_path / "fig"),
        },
        results_root=tmp_path / "runs",
        html=False,
        progress=False,
    )
    # one heatmap per measure and the per-pair table; the drop scatter waits for stages 04/05
    assert png_outputs(out) == len(heatmaps) + 1
    drawn = {p.name for p in (tmp_path / "fig").glob("*.png")}
    assert drawn == {"heatmap_type_mix_js.png", "heatmap_span_length_wasserstein.png", "pairs.png"}


def test_importing_figures_leaves_the_backend_alone():
    code = "import matplotlib; matplotlib.use('svg'); import xner.figures; print(matplotlib.get_backend())"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "svg"


def test_show_needs_an_existing_png(tmp_path):
    from xner.figures import show

    with pytest.raises(ValueError, match=r"no \.png file"):
        show([tmp_path / "f.pdf"])
    with pytest.raises(FileNotFoundError, match="f.png"):
        show([tmp_path / "f.pdf", tmp_path / "f.png"])


def test_resolve_path_is_independent_of_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XNER_RESULTS_DIR", raising=False)
    monkeypatch.delenv("XNER_FIGURES_DIR", raising=False)
    assert config.resolve_path("results/all/01") == ROOT / "results" / "all" / "01"
    assert config.resolve_path("figures/all") == ROOT / "figures" / "all"
    assert config.resolve_path("data/x.tsv") == ROOT / "data" / "x.tsv"
    assert config.resolve_path(tmp_path / "abs") == tmp_path / "abs"
    assert config.resolve_path(None) is None
    monkeypatch.setenv("XNER_RESULTS_DIR", str(tmp_path / "res"))
    assert config.resolve_path("results") == tmp_path / "res"
    assert config.resolve_path("results/id-ms/04") == tmp_path / "res" / "id-ms" / "04"


def test_kernel_environment_is_absolute_and_inline_then_restored(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XNER_DATA_DIR", "data")
    monkeypatch.setenv("MPLBACKEND", "agg")
    monkeypatch.delenv("XNER_CACHE_DIR", raising=False)
    with _kernel_environment():
        assert os.environ["XNER_DATA_DIR"] == str(tmp_path / "data")
        assert os.environ["MPLBACKEND"] == INLINE_BACKEND
        assert "XNER_CACHE_DIR" not in os.environ
    assert os.environ["XNER_DATA_DIR"] == "data" and os.environ["MPLBACKEND"] == "agg"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_notebook_round_trips_through_jupytext_unchanged(stage):
    """Read with jupytext and written back: byte-identical (the header is in the form jupytext writes)."""
    path = notebook_source(stage)
    assert jupytext.writes(jupytext.read(path), fmt="py:percent") == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_saving_from_jupyterlab_rewrites_nothing(stage, tmp_path):
    """What JupyterLab does: open through Jupytext's contents manager (with the repository's jupytext.toml), set
    the running kernel's spec in the metadata, save. The saved file is byte-identical to the committed one."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
    from jupytext.async_contentsmanager import build_async_jupytext_contents_manager_class

    source = notebook_source(stage)
    (tmp_path / "jupytext.toml").write_bytes((ROOT / "jupytext.toml").read_bytes())
    (tmp_path / source.name).write_bytes(source.read_bytes())
    spec = KernelSpecManager().get_kernel_spec("python3")
    manager = build_async_jupytext_contents_manager_class(AsyncLargeFileManager)(root_dir=str(tmp_path))

    async def open_and_save() -> None:
        model = await manager.get(source.name)
        assert model["type"] == "notebook"
        kernelspec = {"display_name": spec.display_name, "language": spec.language, "name": "python3"}
        model["content"]["metadata"]["kernelspec"] = kernelspec
        await manager.save(model, source.name)

    asyncio.run(open_and_save())
    assert (tmp_path / source.name).read_bytes() == source.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["jupytext.toml", source.name])  # no pairing


def test_make_lab_refuses_a_data_setting_that_is_not_a_folder(tmp_path):
    env = {**os.environ, "XNER_DATA_DIR": str(tmp_path / "missing"), "BIN": str(Path(sys.executable).parent)}
    out = subprocess.run(["bash", str(ROOT / "scripts" / "lab.sh")], env=env, capture_output=True, text=True)
    assert out.returncode == 1 and "is not a folder" in out.stderr
