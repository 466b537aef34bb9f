# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 — Paper figures
#
# Every figure of the compendium rebuilt only from the tables under `results_root` (no training, no inference),
# in one colour-blind-safe style, as PDF and PNG with deterministic bytes: native vs transfer per pair,
# degradation heatmaps, divergence vs drop, projection methods on parallel gold, the robustness comparison of
# methods, and the divergence dial. A figure whose tables do not exist yet is listed with the stage to run.
#
# The parameters: where the stages wrote their tables, where the figures go, and which figures must be drawn.

# %% tags=["parameters"]
results_root = "results"  # the root the stages wrote to (results/<pair>/<stage>/…)
figures_dir = "figures/paper"
figures = None  # list of figure names to draw; None: all (see xner.paper.FIGURES)
require = []  # figures that must be drawn: a missing table then fails the run instead of being listed
results_dir = "results/all/06_figures"  # where the list of figures drawn is written
study_pairs = None  # pairs of the findings and the published comparison; None: every pair with stage-04 results

# %% [markdown]
# Check the parameters and list the tables found under `results_root`.

# %%
import pandas as pd

from xner import config, paper
from xner.figures import show
from xner.signature import signature, write_table

unknown = sorted(set(figures or []) | set(require) - set(paper.FIGURES))
assert not unknown, f"unknown figures {unknown}; known: {list(paper.FIGURES)}"
results_root, figures_dir, results_dir = map(config.resolve_path, (results_root, figures_dir, results_dir))
assert results_root.is_dir(), f"{results_root} does not exist: run the stages first"
print("tables found:", {k: len(v) for k, v in paper.collect(results_root).items()})

# %% [markdown]
# Draw every figure whose tables exist and show each one here; the listing names the files written and, for a figure
# not drawn, the stage to run first.

# %%
outcomes = paper.build_all(results_root, figures_dir, only=figures)
listing = pd.DataFrame(
    [{"figure": o.name, "files": " ".join(str(p) for p in o.paths), "skipped": o.skipped} for o in outcomes]
)
if drawn := [p for o in outcomes for p in o.paths]:
    show(drawn)
listing

# %% [markdown]
# Fail when a required figure could not be drawn, and write the listing.

# %%
missing = [o.name for o in outcomes if o.skipped and o.name in require]
assert not missing, f"required figures could not be drawn: {listing[listing.figure.isin(missing)].to_dict('records')}"
write_table(listing, results_dir / "figures.csv", signature(stage="06_figures", data=str(results_root)))

# %% [markdown]
# ## The study's answers
#
# Our native and zero-shot F1 beside the published mBERT and XLM-R base numbers (Manafi & Krishnaswamy 2024, on
# the four pairs we share and as means over pairs), and each published finding tested on our pairs with a 95 %
# bootstrap interval over pairs: `reproduced` when the interval excludes 0 in the published direction. A model
# trained with several seeds counts with its mean F1; its interval holds the seed variance as well as the test-set
# sampling, and the seed spread table lists F1 per seed.

# %%
from xner import study

tables = paper.collect(results_root)
evaluation = tables.get("evaluation")
if evaluation is None:
    print("No stage-04 tables under", results_root, "— the findings need the training results; none written.")
    found = None
else:
    pairs_found = sorted(set(evaluation[paper.RUN_PAIR]))
    study_pairs = list(study_pairs or [p for p in pairs_found if p.count("-") == 1])
    comparison = study.published_comparison(evaluation, study_pairs)
    found = study.findings(evaluation, tables.get("adversarial"), tables.get("drop_joined"), study_pairs)
    sig = signature(stage="06_figures", data=str(results_root), pairs=study_pairs)
    write_table(comparison, results_dir / "published_comparison.csv", sig)
    write_table(found, results_dir / "findings.csv", sig)
    spread = study.seed_spread(evaluation, study_pairs)
    write_table(spread, results_dir / "seed_spread.csv", sig)
    display(comparison.round(3))
    display(spread.round(3))
found if found is None else found.round(3)
