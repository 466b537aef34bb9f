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
# # 01 — Data inspection
#
# Per language: sentences, tokens, entities by type, span lengths, entity density, unique entity surfaces.
# Per pair: token-, entity- and context-vocabulary overlap (Jaccard) and how much of the target test set the
# source training data covers. Tables go to `results_dir`, figures (PDF + PNG) to `figures_dir`.
#
# The parameters: which pair (or languages), dataset and splits to inspect, and where the tables and figures go.
# Relative paths resolve from the repository root (`xner.config.resolve_path`), whatever folder the kernel started
# in.

# %% tags=["parameters"]
pair = "id-ms"  # source-target; its languages are inspected unless `languages` is given
languages = None  # optional list of language codes to inspect instead of the pair's two
dataset = "wikiann"  # wikiann | masakhaner | conll2002 | europarl
splits = ["train", "test"]
data_dir = None  # local data root (laid out as <dataset>/<lang>/<split>.tsv); None: $XNER_DATA_DIR, else the hub
results_dir = "results/all/01_data_inspection"
figures_dir = "figures/all/01_data_inspection"

# %% [markdown]
# Check the parameters against `configs/languages.yaml` and point the loaders at the data, so a typo fails here
# rather than halfway through.

# %%
import pandas as pd

from xner import config, data, inspection
from xner.figures import save_figure, show
from xner.signature import signature

source_lang, target_lang = (p := config.parse_pair(pair)).source, p.target
langs = list(languages) if languages else [source_lang, target_lang]
for code in langs:
    config.language(code)
assert set(splits) <= set(data.SPLITS), f"splits must be among {data.SPLITS}"
data.use_data_dir(config.resolve_path(data_dir))
results_dir, figures_dir = config.resolve_path(results_dir), config.resolve_path(figures_dir)
print("data:", data.data_dir() or "the Hugging Face hub", "| languages:", langs, "| splits:", splits)

# %% [markdown]
# One row per language and split: how many sentences, tokens and entities, the entity types, span lengths and
# density. This is the material the transfer results are read against — a target whose entities look nothing like
# the source's starts with a handicap no model removes.

# %%
loaded = {(lang, split): data.load_split(lang, split, dataset) for lang in langs for split in splits}
stats, lengths = inspection.inspect_languages(loaded)
stats

# %% [markdown]
# The entity-type mix and the span-length distribution of each language, side by side; the same figures are written
# as PDF and PNG to `figures_dir`. Differences seen here are what stage 02 measures as divergences.

# %%
label_types = data.label_set_of(next(iter(loaded.values()))).types
show(save_figure(inspection.plot_label_mix(stats, label_types), figures_dir / "label_mix"))
show(save_figure(inspection.plot_span_lengths(lengths), figures_dir / "span_lengths"))

# %% [markdown]
# ## Vocabulary overlap of the pair
# `*_coverage`: share of target-test occurrences that also occur in the source training data.
#
# Manafi & Krishnaswamy (2024) found that transfer F1 tracks how much of the target test set the source training
# data already covers; the coverage columns below are that quantity for this pair, and stage 02 relates it to the
# measured drop.

# %%
src_train = loaded.get((source_lang, "train")) or data.load_split(source_lang, "train", dataset)
tgt_test = loaded.get((target_lang, "test")) or data.load_split(target_lang, "test", dataset)
overlap = pd.DataFrame([inspection.pair_overlap(src_train, tgt_test, source_lang, target_lang)])
overlap

# %% [markdown]
# Write the tables with their signature (data, split, languages, package versions, commit), so each number can be
# traced to the run that made it.

# %%
sig = signature(data=dataset, split=splits, languages=langs, stage="01_data_inspection", mode="strict")
for path in inspection.write_outputs(stats, lengths, overlap, results_dir, sig):
    print("wrote", path)
