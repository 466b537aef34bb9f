"""Headless notebook runs: execute a stage's jupytext notebook with papermill, keep the executed copy.

``run_stage("01", pair="id-ms", parameters={...})`` turns ``notebooks/01_data_inspection.py`` (the reviewed
``py:percent`` source) into a notebook, executes it with papermill, and writes
``<results>/<pair>/01_data_inspection.ipynb`` plus an HTML rendering and a ``.signature.json``. Outputs are
written under temporary names and renamed at the end, so a killed run never leaves a file that looks finished.
A failing cell raises :class:`StageFailed` naming the executed copy that shows the traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xner import config
from xner.signature import signature

STAGES = {
    "01": "01_data_inspection",
    "02": "02_divergence",
    "03": "03_projection",
    "04": "04_training",
    "05": "05_adversarial",
    "06": "06_figures",
    "07": "07_methods",
    "08": "08_dial_experiment",
}
_ALIASES = {
    "inspection": "01",
    "data": "01",
    "divergence": "02",
    "projection": "03",
    "training": "04",
    "adversarial": "05",
    "figures": "06",
    "methods": "07",
    "dial": "08",
}


# The backend ipykernel gives a JupyterLab kernel: figures left open at the end of a cell become image/png outputs.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
# Folder settings a kernel reads; made absolute before the kernel starts in the repository root.
_PATH_SETTINGS = ("XNER_DATA_DIR", "XNER_CACHE_DIR", "XNER_RESULTS_DIR", "XNER_FIGURES_DIR", "XNER_CONFIG_DIR")


class StageFailed(RuntimeError):
    """A notebook cell raised; the executed copy with the traceback is kept for inspection."""


def stage_name(stage: str) -> str:
    """Resolve ``01``, ``1``, ``inspection`` or ``01_data_inspection`` to the notebook's stem."""
    s = _ALIASES.get(stage, stage)
    s = s.zfill(2) if s.isdigit() else s
    if s in STAGES:
        return STAGES[s]
    if s in STAGES.values():
        return s
    raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(f'{k} ({v})' for k, v in STAGES.items())}")


def notebook_source(stage: str) -> Path:
    """The jupytext source of a stage: ``notebooks/<stage>.py``."""
    path = config.repo_root() / "notebooks" / f"{stage_name(stage)}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the notebook of stage {stage!r} does not exist")
    return path


def declared_parameters(stage: str) -> dict[str, Any]:
    """The parameters a stage's notebook declares in its ``parameters`` cell, with their defaults."""
    import jupytext
    import papermill

    with tempfile.TemporaryDirectory() as tmp:
        nb_path = Path(tmp) / "nb.ipynb"
        jupytext.write(jupytext.read(notebook_source(stage)), nb_path)
        return {k: v["default"] for k, v in papermill.inspect_notebook(str(nb_path)).items()}


def run_stage(
    stage: str,
    *,
    pair: str | None = None,
    parameters: dict[str, Any] | None = None,
    results_root: str | Path | None = None,
    html: bool = True,
    progress: bool = True,
    variant: str | None = None,
) -> Path:
    """Execute a stage's notebook headlessly; return the path of the executed ``.ipynb``.

    ``pair`` (``src-tgt``) is passed as the ``pair`` parameter and names the output folder; ``results_dir``
    defaults to ``<results_root>/<pair>/<stage>/`` unless given in ``parameters``. ``variant`` (for example
    ``e5-small-s0``, one cell of a models × seeds grid) names a separate run of the same stage and pair: its
    notebook is ``<stage>--<variant>.ipynb`` and its tables go to ``<stage>/<variant>/``. An unknown parameter
    name is an error listing the declared ones.
    """
    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError

    name = stage_name(stage)
    params = dict(parameters or {})
    declared = declared_parameters(name)
    unknown = set(params) - set(declared)
    if unknown:
        raise ValueError(f"stage {name} has no parameters {sorted(unknown)}; it declares: {', '.join(declared)}")
    folder = pair or "all"
    if pair is not None:
        config.parse_pair(pair)
        if "pair" in declared:
            params["pair"] = pair
    # absolute, since the kernel starts in the repository root, not in this process's working folder
    root = (Path(results_root) if results_root is not None else config.results_dir()).expanduser().absolute()
    out_dir = root / folder
    out_dir.mkdir(parents=True, exist_ok=True)
    sub = Path(name) / variant if variant else Path(name)
    if "results_dir" in declared and "results_dir" not in params:
        params["results_dir"] = str(out_dir / sub)
    if "figures_dir" in declared and "figures_dir" not in params:
        params["figures_dir"] = str(config.figures_dir(results_root).expanduser().absolute() / folder / sub)
    if variant:
        name_out = f"{name}--{variant}"
    else:
        name_out = name
    out = out_dir / f"{name_out}.ipynb"
    tmp_in = out_dir / f".{name_out}.input.ipynb"
    tmp_out = out_dir / f".{name_out}.running.ipynb"
    jupytext.write(jupytext.read(notebook_source(name)), tmp_in)
    try:
        with _kernel_environment():
            papermill.execute_notebook(
                str(tmp_in),
                str(tmp_out),
                parameters=params,
                kernel_name="python3",
                progress_bar=progress,
                cwd=str(config.repo_root()),
                log_output=False,
            )
    except PapermillExecutionError as exc:
        failed = out_dir / f"{name_out}.failed.ipynb"
        tmp_out.replace(failed)
        raise StageFailed(
            f"stage {name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} (executed copy: {failed})"
        ) from None
    finally:
        tmp_in.unlink(missing_ok=True)
    sig = signature(stage=name, languages=pair.split("-") if pair else [], variant=variant or "", parameters=params)
    (out_dir / f"{name_out}.signature.json").write_text(json.dumps(sig, indent=2, default=str) + "\n", encoding="utf-8")
    if html:
        _to_html(tmp_out, out.with_suffix(".html"))
    tmp_out.replace(out)
    (out_dir / f"{name_out}.failed.ipynb").unlink(missing_ok=True)
    return out


@contextlib.contextmanager
def _kernel_environment() -> Iterator[None]:
    """The environment a headless kernel starts with, as in JupyterLab; restored afterwards.

    The kernel gets the inline matplotlib backend whatever ``MPLBACKEND`` this process has (the ``xner`` command
    sets Agg for itself), so a headless run captures the same figure outputs as an interactive one. The folder
    settings (``XNER_DATA_DIR`` …) are made absolute against this process's working folder, since the kernel
    starts in the repository root: ``XNER_DATA_DIR=../shared/data xner run …`` means the same folder to both.
    """
    changes = {"MPLBACKEND": INLINE_BACKEND}
    for name in _PATH_SETTINGS:
        value = os.environ.get(name)
        if value:
            changes[name] = str(Path(value).expanduser().absolute())
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _to_html(nb_path: Path, html_path: Path) -> Path:
    """Render an executed notebook as standalone HTML."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(nb_path, as_version=4))
    tmp = html_path.with_name(html_path.name + ".tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(html_path)
    return html_path
