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
# # 02 — Label-distribution divergence
#
# How far apart are a source training set and a target test set? Per split: entity-type mix, span lengths
# (pooled and per type), entities per sentence, tag bigrams; per pair: Jensen–Shannon divergence (bits, in
# [0, 1]), smoothed KL both ways, Wasserstein distance for length distributions, and the surface overlap of
# entities, entity words, context words (and subwords, given a tokenizer). Definitions: `xner.divergence`.
#
# 1. all-pairs matrices over `languages` (train of the row language vs test of the column language), as heatmaps;
# 2. the per-pair table for `pairs`;
# 3. the divergence dial for `pair`: its source training set resampled at chosen JS from the target's type mix
#    (datasets for the training stage);
# 4. which divergence predicts the transfer drop (native F1 − transfer F1), once stages 04/05 have written their
#    evaluation tables — until then this section says so and stops.
#
# The parameters: the focus pair, the languages of the all-pairs matrices, the measures and their smoothing, the
# dial's JS levels, and where the evaluation tables of stages 04/05 are looked for.

# %% tags=["parameters"]
pair = "id-ms"  # source-target: the focus pair (dial; always in the per-pair table)
pairs = None  # list of "src-tgt" for the per-pair table; None: the configured pairs whose languages are local
languages = None  # languages of the all-pairs matrices; None: every local language of `dataset`
dataset = "wikiann"  # data source: wikiann | masakhaner | conll2002 (local folder <dataset>/<lang>/<split>.tsv)
data_dir = None  # local data root; None: $XNER_DATA_DIR
source_split = "train"
target_split = "test"
measures = None  # list of measure names, or None for all (see xner.divergence.measure_names)
smoothing = 0.5  # pseudo-counts per cell for the KL divergences (recorded in every table)
type_map = None  # explicit label mapping when label sets differ, e.g. {"MISC": None}
tokenizer = None  # tokenizer.json / folder / hub name for the subword-overlap measures; None: skip them
heatmap_measures = [
    "type_mix.js",
    "span_length.wasserstein",
    "entities_per_sentence.js",
    "transitions.js",
    "entity_overlap",
    "context_overlap",
]
dial_levels = [0.0, 0.05, 0.1, 0.2, 0.4]  # Jensen–Shannon targets (bits)
dial_tol = 0.005  # accepted |achieved − target| (bits)
seed = 0
eval_glob = "*/04_training/**/training.csv"  # stage-04 evaluation tables, relative to eval_root (None: no drop)
eval_root = None  # None: the results folder (xner.config.results_dir())
scatter_measures = 6  # how many of the best-ranked measures to draw against the drop
results_dir = "results/all/02_divergence"
figures_dir = "figures/all/02_divergence"

# %% [markdown]
# Check the parameters (unknown measures and languages fail here) and list which pairs the per-pair table will hold.

# %%
import pandas as pd

from xner import config, data
from xner import divergence as dv
from xner.divergence import dial as dl
from xner.divergence import drop
from xner.figures import save_figure, show

data.use_data_dir(config.resolve_path(data_dir))
focus = config.parse_pair(pair)
langs = list(languages) if languages else dv.local_languages(dataset)
for code in langs:
    config.language(code)
if pairs is None:
    pair_list, needs_hub = dv.local_pairs(config.pairs(), dataset)
    print(
        f"per-pair table: {len(pair_list)} configured pairs with local data; skipped {len(needs_hub)} that need "
        "the hub:",
        ", ".join(p.name for p in needs_hub) or "none",
    )
else:
    pair_list = [config.parse_pair(p) for p in pairs]
if focus.name not in {p.name for p in pair_list}:
    pair_list.append(focus)
assert source_split in data.SPLITS and target_split in data.SPLITS, f"splits must be among {data.SPLITS}"
assert smoothing >= 0, "smoothing is a number of pseudo-counts >= 0"
assert all(0 <= x <= 1 for x in dial_levels), "JS levels (base 2) lie in [0, 1]"
if measures is not None:
    dv.check_measures(
        measures,
        data.label_set_of(data.load_split(langs[0], source_split, dataset)).types,
        subwords=tokenizer is not None,
    )
    missing = [m for m in heatmap_measures if m not in measures]
    assert not missing, f"heatmap_measures {missing} are not among the computed measures"
results_dir, figures_dir = config.resolve_path(results_dir), config.resolve_path(figures_dir)
print(
    "data:", data.data_dir() or "the Hugging Face hub", "| languages:", langs, "| pairs:", [p.name for p in pair_list]
)

# %% [markdown]
# ## All-pairs matrices
#
# Every divergence measure for every (source train, target test) combination of the languages; the printed matrix is
# the Jensen–Shannon divergence of the entity-type mix, in bits.

# %%
src_prof = dv.load_profiles(langs, source_split, dataset, tokenizer=tokenizer)
tgt_prof = dv.load_profiles(langs, target_split, dataset, tokenizer=tokenizer)
allp = dv.all_pairs(src_prof, tgt_prof, measures, smoothing=smoothing)
print(f"{len(allp)} rows; skipped (undefined) measures: {len(allp.attrs['skipped'])}")
dv.matrix(allp, "type_mix.js" if "type_mix.js" in set(allp["measure"]) else allp["measure"].iloc[0]).round(3)

# %% [markdown]
# One heatmap per measure: rows are training languages, columns test languages. Dark off-diagonal cells are the
# pairs where the label distributions disagree most — the candidates for a large transfer drop.

# %%
for m in heatmap_measures:
    show(save_figure(dv.plot_heatmap(dv.matrix(allp, m), m), figures_dir / f"heatmap_{dv.figure_stem(m)}"))
print("heatmaps:", ", ".join(heatmap_measures))

# %% [markdown]
# ## Per-pair table
#
# The configured pairs only, every measure, in one figure and one table; these rows are what the drop prediction
# below is fitted on.

# %%
profiles = {
    **{(k, source_split): v for k, v in src_prof.items()},
    **{(k, target_split): v for k, v in tgt_prof.items()},
}
pairs_df = dv.pair_table(
    pair_list,
    dataset=dataset,
    source_split=source_split,
    target_split=target_split,
    measures=measures,
    smoothing=smoothing,
    tokenizer=tokenizer,
    type_map=type_map,
    profiles=profiles,
)
shown = [m for m in heatmap_measures if m in set(pairs_df["measure"])]
pair_mat = dv.pair_matrix(pairs_df, shown)
show(save_figure(dv.plot_pair_table(pair_mat), figures_dir / "pairs"))
pair_mat.round(4)

# %% [markdown]
# Write the all-pairs and per-pair tables with their signatures.

# %%
sig_fields = dict(
    data=dataset,
    split=[source_split, target_split],
    languages=langs,
    pairs=[p.name for p in pair_list],
    smoothing=smoothing,
    tokenizer=str(tokenizer),
    type_map=str(type_map),
)
for path in dv.write_tables(results_dir, all_pairs_df=allp, pairs_df=pairs_df, sig_fields=sig_fields):
    print("wrote", path)

# %% [markdown]
# ## Divergence dial for the focus pair
# The source training set resampled (same size, with replacement, seeded) so that its type mix sits at each
# JS level from the target test mix; unreachable levels are reported with the reachable range.
#
# The causal handle: the source training set resampled so that its type mix sits at each chosen JS level from the
# target's; training on these sets (stage 04) gives the slope of F1 on divergence with nothing else changed.

# %%
dial_src = data.load_split(focus.source, source_split, dataset)
dial_tgt = data.load_split(focus.target, target_split, dataset)
dial_src, dial_tgt, _ = dv.harmonize(dial_src, dial_tgt, type_map)
fitted, levels = dl.run_dial(dial_src, dial_tgt, dial_levels, seed=seed, tol=dial_tol, on_unreachable="report")
report = dl.write_dial(
    dial_src,
    fitted,
    levels,
    results_dir / "dial" / focus.name,
    source_name=focus.source,
    target_name=focus.target,
    sig_fields={"data": dataset, "split": [source_split, target_split]},
)
print(f"corner: {fitted.corner}; max reachable JS along the path: {fitted.max_reachable():.3f}; tolerance {dial_tol}")
report[["target_js", "achieved_js", "abs_error", "lambda", "status", "n_distinct", "path"]]

# %% [markdown]
# ## Which divergence predicts the transfer drop?
#
# Join the divergences with the transfer drops that stages 04/05 wrote (native F1 − transfer F1). The published
# finding to check (Manafi & Krishnaswamy 2024): the drop shrinks as the target test set's overlap with the source
# training data grows, so `entity_overlap` should correlate negatively with the drop.

# %%
divs = pd.concat([allp, pairs_df[allp.columns]]).drop_duplicates(["source", "target", "measure"])
try:
    if eval_glob is None:
        raise drop.NoTransferResults("eval_glob is None: the drop is not predicted in this run")
    joined, corr = drop.predict_drop(divs, eval_glob, eval_root, seed=seed, pairs=[p.name for p in pair_list])
except drop.NoTransferResults as exc:
    joined = corr = None
    print("No transfer results yet, so the drop cannot be predicted:", exc)
except drop.TooFewPairs as exc:  # a per-pair run: the correlation over all pairs is the `all` run of this stage
    joined = corr = None
    print("Too few pairs here to correlate divergences with the drop:", exc)

# %% [markdown]
# Rank the measures by how well they predict the drop (Spearman over pairs, bootstrap CIs) and draw the best ones
# against it.

# %%
if corr is not None:
    sig = dict(sig_fields, eval_glob=eval_glob, seed=seed, n_resamples=corr.attrs["n_resamples"])
    from xner.signature import signature, write_table

    write_table(
        corr, results_dir / "drop_correlations.csv", signature(stage="02_divergence", table="drop_correlations", **sig)
    )
    write_table(joined, results_dir / "drop_joined.csv", signature(stage="02_divergence", table="drop_joined", **sig))
    best = [m for m in corr.dropna(subset=["spearman"])["measure"].unique()][:scatter_measures]
    show(save_figure(drop.plot_drop_scatter(joined, best, corr=corr), figures_dir / "drop_scatter"))
    display(drop.best_predictors(corr))  # noqa: F821 (IPython)
    display(corr.head(20))  # noqa: F821
