"""Figures of stage 04: learning curves (training loss and dev strict F1 per epoch)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from xner.figures import style


def learning_curves(history: pd.DataFrame, *, title: str = "") -> Any:
    """Training loss (left) and dev strict F1 (right) per epoch, one line per run.

    ``history`` is the concatenation of :attr:`xner.modeling.TrainResult.history` tables: columns ``run``,
    ``epoch``, ``train_loss``, ``dev_f1``.
    """
    import matplotlib.pyplot as plt

    missing = {"run", "epoch", "train_loss", "dev_f1"} - set(history.columns)
    if missing:
        raise ValueError(f"learning_curves: the history table lacks columns {sorted(missing)}")
    if history.empty:
        raise ValueError("learning_curves: the history table is empty (no training ran)")
    with style():
        fig, (ax_l, ax_f) = plt.subplots(1, 2, figsize=(7.0, 2.8), constrained_layout=True)
        for run, grp in history.groupby("run", sort=True):
            grp = grp.sort_values("epoch")
            ax_l.plot(grp["epoch"], grp["train_loss"], marker="o", ms=3, label=str(run))
            if grp["dev_f1"].notna().any():
                ax_f.plot(grp["epoch"], grp["dev_f1"], marker="o", ms=3, label=str(run))
        ax_l.set_xlabel("epoch")
        ax_l.set_ylabel("training loss")
        ax_f.set_xlabel("epoch")
        ax_f.set_ylabel("dev strict F1")
        ax_f.set_ylim(0, 1)
        from matplotlib.ticker import MaxNLocator

        last = int(history["epoch"].max())
        for ax in (ax_l, ax_f):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlim(0.5, last + 0.5)
        handles, labels = ax_l.get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)), frameon=False)
        if title:
            fig.suptitle(title)
    return fig


def f1_by_model(rows: pd.DataFrame, *, title: str = "") -> Any:
    """Strict F1 with its bootstrap CI per model and evaluation language (bars with error bars)."""
    import matplotlib.pyplot as plt
    import numpy as np

    need = {"model", "eval_lang", "setting", "f1", "f1_low", "f1_high"}
    if need - set(rows.columns):
        raise ValueError(f"f1_by_model: the table lacks columns {sorted(need - set(rows.columns))}")
    rows = rows.assign(group=rows["setting"] + " → " + rows["eval_lang"])
    groups = list(dict.fromkeys(rows["group"]))
    models = list(dict.fromkeys(rows["model"]))
    with style():
        fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(groups) + 1), 2.8), constrained_layout=True)
        width = 0.8 / max(1, len(models))
        for k, m in enumerate(models):
            sub = rows[rows["model"] == m].set_index("group").reindex(groups)
            x = np.arange(len(groups)) + (k - (len(models) - 1) / 2) * width
            err = np.vstack([sub["f1"] - sub["f1_low"], sub["f1_high"] - sub["f1"]])
            ax.bar(x, sub["f1"], width, yerr=err, capsize=2, label=str(m))
        ax.set_xticks(np.arange(len(groups)), groups, rotation=20, ha="right")
        ax.set_ylabel("strict F1 (95 % CI)")
        ax.set_ylim(0, 1)
        ax.legend(frameon=False, fontsize=7)
        if title:
            ax.set_title(title)
    return fig


__all__ = ["f1_by_model", "learning_curves"]
