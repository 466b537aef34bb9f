"""Cross-domain scaling: encoder × train domain × test domain, zero-shot in domain and (optionally) in language.

Does a larger encoder hold up better when the test domain differs from the training domain? Each encoder of the
size axis (``configs/scale.yaml``: mini-tiny/-small/-base pretrained here, e5-small; hub encoders online) is
fine-tuned on English of one domain and tested on the others (:data:`GRID`):

* CoNLL-2003 en (news) → Europarl en (parliament), WikiANN en (Wikipedia), and cross-lingually Europarl es and
  WikiANN es;
* WikiANN en → CoNLL-2003 en, Europarl en.

Label sets are mapped explicitly. CoNLL-2003 and Europarl share PER ORG LOC MISC. WikiANN has no MISC, so in every
cell with WikiANN on either side MISC is **dropped on both sides** — gold and predictions — through
:func:`xner.labels.map_tags` with the map ``{"MISC": None}`` (its tokens become ``O``, counted in
``entities_dropped``): a CoNLL model is neither rewarded nor punished for MISC on WikiANN, and a WikiANN model is
not punished for never predicting MISC on CoNLL or Europarl. The in-domain reference of a cell (the train domain's
own test set) is scored under the same mapping, so the in → out-of-domain drop compares like with like; the two
sets share no sentences, so the drop's CI is an unpaired bootstrap (:func:`xner.robustness.domain.unpaired_drop`).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xner.data import load_split, tag_names
from xner.figures import PALETTE, plt, save_figure, style
from xner.labels import CONLL, WIKIANN, MappingReport, map_tags, resolve_type_map
from xner.methods.config import RECIPES, MethodConfig, add_recipe_arguments, recipe_settings, scale_encoders
from xner.methods.train import train_method
from xner.metrics import score
from xner.modeling.encoders.mini import MiniConfig, mini_encoder, parse_name
from xner.robustness.domain import unpaired_drop
from xner.robustness.suite import score_row
from xner.utils import cap

#: The training domains: the dataset each trains on (English), as ``dataset`` strings of :func:`xner.data.load_split`.
TRAIN_DOMAINS = {"conll2003": "conll2002,en=conll2003", "wikiann": "wikiann"}

#: Train domain → its out-of-domain test sets as (dataset, language).
GRID: dict[str, tuple[tuple[str, str], ...]] = {
    "conll2003": (("europarl", "en"), ("wikiann", "en"), ("europarl", "es"), ("wikiann", "es")),
    "wikiann": (("conll2003", "en"), ("europarl", "en")),
}

DOMAIN = {"conll2003": "news", "conll2002": "news", "europarl": "parliament", "wikiann": "Wikipedia"}

MISC_DROPPED = {"MISC": None}


class CrossDomainError(ValueError):
    """The grid cannot run with the given settings."""


@dataclass
class CrossDomainConfig:
    """Every setting of the grid (``None`` caps: the full splits)."""

    encoders: tuple[str, ...] = ("mini-tiny", "mini-small", "mini-base", "e5-small")
    train_domains: tuple[str, ...] = ("conll2003", "wikiann")
    seeds: tuple[int, ...] = (0,)
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    max_test_samples: int | None = None
    recipe: str = "offline"  # e5-small as the offline study trains it, the minis as configs/scale.yaml
    batch_size: int | None = None  # None: the recipe's (the minis: 16)
    epochs: int | None = None  # fine-tuning epochs of every encoder (None: the recipe's; the minis: 10)
    mini_epochs: int | None = None  # MLM pretraining epochs of the mini encoders (None: the size's default)
    mini_languages: tuple[str, ...] = ("en", "es")  # their pretraining text: these languages' train text …
    # … in these datasets: both train domains' (see mini_text)
    mini_datasets: tuple[str, ...] = (TRAIN_DOMAINS["wikiann"], TRAIN_DOMAINS["conll2003"])
    n_resamples: int = 1000
    num_threads: int | None = None  # torch CPU threads of pretraining, training and prediction (None: all)

    def __post_init__(self) -> None:
        self.encoders, self.train_domains, self.seeds = (
            tuple(self.encoders),
            tuple(self.train_domains),
            tuple(self.seeds),
        )
        self.mini_languages, self.mini_datasets = tuple(self.mini_languages), tuple(self.mini_datasets)
        bad = [d for d in self.train_domains if d not in GRID]
        if bad:
            raise CrossDomainError(f"unknown train domains {bad}; expected any of {', '.join(GRID)}")
        if not self.encoders or not self.seeds:
            raise CrossDomainError("give at least one encoder and one seed")
        if self.recipe not in RECIPES:
            raise CrossDomainError(f"unknown recipe {self.recipe!r}; expected one of {', '.join(RECIPES)}")


def _mapping(train_domain: str, test_dataset: str) -> dict[str, str | None] | None:
    """``{"MISC": None}`` when WikiANN is on either side (it has no MISC), else ``None`` (labels as they are)."""
    return MISC_DROPPED if "wikiann" in (train_domain, test_dataset) else None


def map_sentences(tags: Sequence[Sequence[str]], type_map: dict[str, str | None] | None) -> tuple[list[list[str]], int]:
    """Tags under the explicit map (CoNLL → WikiANN types), and how many entities it dropped."""
    if type_map is None:
        return [list(t) for t in tags], 0
    full = resolve_type_map(CONLL, WIKIANN, type_map)
    report = MappingReport(CONLL.name, WIKIANN.name, full)
    out = [map_tags(t, full, report) for t in tags]
    return out, int(sum(report.dropped.values()))


def mini_text(cfg: CrossDomainConfig, loader: Callable[..., Any] = load_split) -> list[list[str]]:
    """The mini encoders' pretraining text: the train-split tokens (labels never read) of every language of
    ``mini_languages`` in every dataset of ``mini_datasets``, each capped at ``max_train_samples`` — by default
    WikiANN en/es and CoNLL-2003 en / CoNLL-2002 es in equal measure, so pretraining favours neither train domain
    (an encoder pretrained on WikiANN text alone starts the CoNLL models in the other domain)."""
    out: list[list[str]] = []
    for dataset in cfg.mini_datasets:
        for lang in cfg.mini_languages:
            out += [list(t) for t in cap(loader(lang, "train", dataset), cfg.max_train_samples)["tokens"]]
    return out


def _encoder_path(name: str, cfg: CrossDomainConfig, loader: Callable[..., Any] = load_split) -> tuple[str, str]:
    """(encoder for MethodConfig, its size name): a mini encoder is pretrained here (once, cached) on
    :func:`mini_text` with the configured epochs."""
    if not name.startswith("mini-"):
        return name, name
    mini = MiniConfig(epochs=cfg.mini_epochs, num_threads=cfg.num_threads)
    size = parse_name(name)
    return str(mini_encoder(cfg.mini_languages, size=size, config=mini, text=mini_text(cfg, loader))), name


def train_model(
    cfg: CrossDomainConfig,
    encoder: str,
    train_domain: str,
    seed: int,
    models_dir: str | Path,
    *,
    loader: Callable[..., Any] = load_split,
    log: Callable[[str], None] = lambda m: None,
    resolved: tuple[str, str] | None = None,
) -> Any:
    """Fine-tune ``encoder`` on the English train split of ``train_domain`` (cached by
    :func:`xner.methods.train_method`); returns the :class:`~xner.methods.TrainedMethod`. ``resolved``: the
    encoder's (path, name) when the caller has resolved it already."""
    path, name = resolved or _encoder_path(encoder, cfg, loader)
    settings = recipe_settings(name, cfg.recipe, batch_size=cfg.batch_size, epochs=cfg.epochs)
    # The target only names the model's zero-shot test language; a direct model does not depend on it (its cache
    # key leaves it out), so the CoNLL-2003 model is the teacher–student study's English teacher when settings match.
    mc = MethodConfig(
        method="direct",
        target="es",
        sources=("en",),
        encoder=path,
        max_train_samples=cfg.max_train_samples,
        max_eval_samples=cfg.max_eval_samples,
        seed=seed,
        num_threads=cfg.num_threads,
        dataset=TRAIN_DOMAINS[train_domain],
        **settings,
    )
    return train_method(mc, models_dir, loader=loader, log=log)


def _test_set(dataset: str, lang: str, cfg: CrossDomainConfig, loader: Callable[..., Any]) -> Any:
    return cap(loader(lang, "test", dataset), cfg.max_test_samples)


def evaluate_cells(
    predictor: Callable[[list[list[str]]], list[list[str]]],
    cfg: CrossDomainConfig,
    train_domain: str,
    *,
    loader: Callable[..., Any] = load_split,
) -> list[dict[str, Any]]:
    """Score one trained model on its in-domain test set and every out-of-domain cell of :data:`GRID`."""
    sets = {(train_domain, "en"): _test_set(train_domain, "en", cfg, loader)}
    sets.update({cell: _test_set(*cell, cfg, loader) for cell in GRID[train_domain]})
    preds = {cell: [list(p) for p in predictor([list(t) for t in ds["tokens"]])] for cell, ds in sets.items()}
    golds = {cell: tag_names(ds) for cell, ds in sets.items()}
    rows = []
    for cell in sets:
        type_map = _mapping(train_domain, cell[0])
        gold, n_dropped = map_sentences(golds[cell], type_map)
        pred, _ = map_sentences(preds[cell], type_map)
        in_gold, _ = map_sentences(golds[(train_domain, "en")], type_map)
        in_pred, _ = map_sentences(preds[(train_domain, "en")], type_map)
        rec = {
            "train_domain": train_domain,
            "test_dataset": cell[0],
            "test_lang": cell[1],
            "test_domain": DOMAIN[cell[0]],
            "in_domain": cell == (train_domain, "en"),
            "labels": "PER ORG LOC (MISC dropped on both sides)" if type_map else "PER ORG LOC MISC",
            "entities_dropped": n_dropped,
            **score_row(gold, pred, n_resamples=cfg.n_resamples, confidence=0.95, seed=0),
            "in_domain_f1": score(in_gold, in_pred).f1,
        }
        if not rec["in_domain"]:
            d = unpaired_drop(in_gold, in_pred, gold, pred, n_resamples=cfg.n_resamples)
            rec.update(drop=d[0], drop_low=d[1], drop_high=d[2], drop_p=d[3])
        rows.append(rec)
    return rows


def run_grid(
    cfg: CrossDomainConfig,
    models_dir: str | Path,
    *,
    loader: Callable[..., Any] = load_split,
    log: Callable[[str], None] = lambda m: None,
) -> pd.DataFrame:
    """Every encoder × train domain × seed: train (or load) the model, score every cell (one row each)."""
    params = {e["name"]: e.get("params") for e in scale_encoders(online=True)}
    rows = []
    for encoder in cfg.encoders:
        resolved = _encoder_path(encoder, cfg, loader)  # a mini's pretraining text is read and digested once
        for train_domain in cfg.train_domains:
            for seed in cfg.seeds:
                tm = train_model(
                    cfg, encoder, train_domain, seed, models_dir, loader=loader, log=log, resolved=resolved
                )
                for rec in evaluate_cells(tm.spec.predictor, cfg, train_domain, loader=loader):
                    rec.update(encoder=encoder, params_m=params.get(encoder), seed=seed, model_path=str(tm.path))
                    rec["train_seconds"] = tm.info.get("train_seconds", tm.seconds)
                    log(
                        f"{encoder} {train_domain}→{rec['test_dataset']}/{rec['test_lang']} seed {seed}: "
                        f"F1 {rec['f1']:.3f} [{rec['f1_low']:.3f}, {rec['f1_high']:.3f}]"
                    )
                    rows.append(rec)
    return pd.DataFrame(rows)


CELL = ["train_domain", "test_dataset", "test_lang"]


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per encoder and cell (F1, CI bounds, drop and its CI), encoders ordered by size."""
    cols = [c for c in ("f1", "f1_low", "f1_high", "in_domain_f1", "drop", "drop_low", "drop_high") if c in table]
    keys = ["encoder", "params_m", *CELL, "in_domain", "labels"]
    out = table.groupby(keys, sort=False, dropna=False)[cols].mean().reset_index()
    out["seeds"] = table.groupby(keys, sort=False, dropna=False).size().to_numpy()
    return out.sort_values(["params_m", *CELL], kind="stable").reset_index(drop=True)


def drop_trend(summary: pd.DataFrame) -> pd.DataFrame:
    """Per out-of-domain cell: the drop of each encoder by size, and the size from which it stops shrinking (the
    first encoder whose successor's drop is not smaller, CI-free: a description, not a test)."""
    rows = []
    for cell, g in summary[~summary["in_domain"].astype(bool)].groupby(CELL, sort=False):
        g = g.sort_values("params_m")
        drops = g["drop"].to_numpy()
        stops = next((i for i in range(len(drops) - 1) if drops[i + 1] >= drops[i]), None)
        rows.append(
            {
                **dict(zip(CELL, cell, strict=True)),
                "drops": ", ".join(f"{e} {100 * d:.1f}" for e, d in zip(g["encoder"], drops, strict=True)),
                "stops_shrinking_at": g["encoder"].iloc[stops] if stops is not None else "never (in this range)",
            }
        )
    return pd.DataFrame(rows)


def plot_crossdomain(summary: pd.DataFrame) -> Any:
    """Two panels over encoder size: strict F1 per cell (in-domain dashed) and the in → out-of-domain drop, with
    95 % CIs."""
    with style():
        fig, (ax_f1, ax_drop) = plt.subplots(1, 2, figsize=(9, 3.4))
        sizes = summary.drop_duplicates("encoder").sort_values("params_m")
        pos = {e: i for i, e in enumerate(sizes["encoder"])}
        for i, (cell, g) in enumerate(summary.groupby(CELL, sort=False)):
            g = g.sort_values("params_m")
            x = [pos[e] for e in g["encoder"]]
            inside = bool(g["in_domain"].iloc[0])
            label = f"{cell[0]} → {cell[1]} {cell[2]}"
            color = PALETTE[i % len(PALETTE)]
            err = [g["f1"] - g["f1_low"], g["f1_high"] - g["f1"]]
            ax_f1.errorbar(
                x, g["f1"], yerr=err, marker="o", capsize=3, color=color, ls="--" if inside else "-", label=label
            )
            if not inside:
                derr = [g["drop"] - g["drop_low"], g["drop_high"] - g["drop"]]
                ax_drop.errorbar(x, 100 * g["drop"], yerr=100 * np.asarray(derr), marker="o", capsize=3, color=color)
        for ax in (ax_f1, ax_drop):
            ax.set_xticks(
                range(len(pos)), [f"{e}\n({p:g} M)" for e, p in zip(sizes["encoder"], sizes["params_m"], strict=True)]
            )
        ax_f1.set_ylabel("strict span F1")
        ax_drop.set_ylabel("in-domain − out-of-domain F1 (points)")
        ax_drop.axhline(0, color="grey", lw=0.8)
        ax_f1.legend(fontsize=6, loc="best")
        fig.tight_layout()
        return fig


def write_outputs(table: pd.DataFrame, results_dir: str | Path, figures_dir: str | Path | None = None) -> list[Path]:
    """Write ``crossdomain.csv`` (every seed), ``crossdomain_summary.csv``, ``crossdomain_trend.csv`` and the
    figure."""

    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    summary = summary_table(table)
    written = [results_dir / f"crossdomain{s}.csv" for s in ("", "_summary", "_trend")]
    table.to_csv(written[0], index=False)
    summary.round(4).to_csv(written[1], index=False)
    drop_trend(summary).to_csv(written[2], index=False)
    if figures_dir is not None:
        written += save_figure(plot_crossdomain(summary), Path(figures_dir) / "crossdomain")
    return written


def summary_markdown(summary: pd.DataFrame) -> str:
    """Encoder × cell as a markdown table: F1 [CI] and drop [CI] in points."""
    lines = [
        "| encoder | train → test | labels | F1 [95 % CI] | drop from in-domain [95 % CI] |",
        "|---|---|---|---|---|",
    ]
    for r in summary.itertuples():
        drop = "(in-domain)" if r.in_domain else f"{100 * r.drop:.1f} [{100 * r.drop_low:.1f}, {100 * r.drop_high:.1f}]"
        lines.append(
            f"| {r.encoder} | {r.train_domain} en → {r.test_dataset} {r.test_lang} | {r.labels} | "
            f"{100 * r.f1:.1f} [{100 * r.f1_low:.1f}, {100 * r.f1_high:.1f}] | {drop} |"
        )
    return "\n".join(lines) + "\n"


def merge_tables(folders: Sequence[str | Path]) -> pd.DataFrame:
    """The ``crossdomain.csv`` tables of several runs (split over jobs) as one; a missing one is an error naming it."""
    paths = [Path(d) / "crossdomain.csv" for d in folders]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"no crossdomain table in {', '.join(missing)}: run those jobs first")
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m xner.robustness.crossdomain [--encoders …] [--max-train-samples N …]``."""
    ap = argparse.ArgumentParser(prog="python -m xner.robustness.crossdomain", description=__doc__.split("\n\n")[0])
    ap.add_argument("--encoders", nargs="+", default=list(CrossDomainConfig.encoders))
    ap.add_argument("--train-domains", nargs="+", default=list(GRID), choices=list(GRID))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    for name in ("max-train-samples", "max-eval-samples", "max-test-samples", "mini-epochs"):
        ap.add_argument(f"--{name}", type=int, default=None, help="default: all / the size's own")
    ap.add_argument("--epochs", type=int, default=None, help="fine-tuning epochs of every encoder (default: recipe)")
    add_recipe_arguments(ap)
    ap.add_argument("--n-resamples", type=int, default=1000)
    ap.add_argument(
        "--merge",
        nargs="+",
        default=None,
        metavar="DIR",
        help="no training: join the crossdomain.csv of runs split over jobs (e.g. by --only) and write the outputs",
    )
    ap.add_argument(
        "--pretrain-only",
        action="store_true",
        help="only pretrain the mini encoders among --encoders (cached) and print their folders",
    )
    ap.add_argument("--models-dir", default="results/models/conll")
    ap.add_argument("--results-dir", default="results/conll/crossdomain")
    ap.add_argument("--figures-dir", default="figures/paper", help="'' writes no figure (a job of a split run)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = CrossDomainConfig(
        encoders=tuple(a.encoders),
        train_domains=tuple(a.train_domains),
        seeds=tuple(a.seeds),
        max_train_samples=a.max_train_samples,
        max_eval_samples=a.max_eval_samples,
        max_test_samples=a.max_test_samples,
        mini_epochs=a.mini_epochs,
        recipe=a.recipe,
        batch_size=a.batch_size,
        epochs=a.epochs,
        n_resamples=a.n_resamples,
        num_threads=a.threads,
    )
    if a.pretrain_only:
        for encoder in cfg.encoders:
            print(f"{encoder}\t{_encoder_path(encoder, cfg)[0]}")
        return 0
    table = merge_tables(a.merge) if a.merge else run_grid(cfg, a.models_dir, log=print)
    for path in write_outputs(table, a.results_dir, a.figures_dir or None):
        print(path)
    print(summary_markdown(summary_table(table)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
