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
# # 08 — The dial experiment: does divergence cause a transfer drop when nothing else changes?
#
# The correlational half of the study (stage 02 over many pairs) asks whether the transfer drop tracks
# label-distribution divergence; this stage intervenes. For each pair the source training set — the first
# `max_train_samples` sentences of the source train split, the set stage 04 trains on — is resampled by the
# divergence dial (`xner.divergence.dial`) so that its entity-type mix sits at chosen Jensen–Shannon levels (bits)
# from the type mix of the **target train** split. Size, sentences available, model, training configuration, seed,
# dev set (source dev) and test set (target test) stay the same; only the type mix moves. No target test label is
# used to build any training set; they only score. Each resample trains one model (cached in `models_dir`, so a
# rerun trains nothing), scored with strict span F1 on the target test split.
#
# Levels: `levels = None` takes 0, 0.05, 0.1, 0.2 and the largest JS the dial reaches for the pair (rounded down);
# a list may name `"max"`. Seed `s` seeds the dial's draws and the training. Method: `xner.divergence.dial_experiment`.

# %% tags=["parameters"]
pairs = ["id-ms"]  # source-target pairs
levels = None  # JS levels (bits); None: 0, 0.05, 0.1, 0.2 and the maximum reachable; "max" may appear in a list
seeds = [0]  # each seeds the dial's resampling and the training
model = "crf"  # "crf" (feature CRF), an encoder (e5-small, mini-tiny, a hub name, a folder), or a list of them
learning_rate = 5e-4  # encoder fine-tuning (ignored by the CRF); the offline recipe of stage 04
epochs = 3
batch_size = 32
freeze_embeddings = True
freeze_layers = 6  # also freeze the lowest N transformer layers
bf16 = True  # the encoder under bf16 autocast (head, CRF, loss and optimizer stay float32)
head = "crf"  # encoder output layer: crf or softmax
crf_iterations = 100  # L-BFGS iterations of the feature CRF
max_train_samples = 300  # source train sentences: the set the dial resamples (None: the whole split)
max_eval_samples = 100  # source dev sentences for early stopping
max_predict_samples = 300  # target test sentences scored (None: all)
slope_max_js = [None, 0.2]  # JS ranges the slope is fitted over (None: all levels)
include_original = True  # also train on the capped source set as it is (a reference row, not in the slopes)
tol = 0.005  # accepted |achieved − requested| JS (bits)
n_resamples = 1000  # bootstrap resamples of every CI
dataset = "wikiann"
data_dir = None  # local data root; None: $XNER_DATA_DIR
num_threads = None  # torch threads (None: all CPUs this process may use)
results_dir = "results/all/08_dial_experiment"
figures_dir = "figures/all/08_dial_experiment"
models_dir = None  # the model cache (shared with stage 04 when it names the same folder); None: <results_dir>/models

# %%

import pandas as pd

from xner import config, data
from xner.divergence.dial_experiment import plot_dial_experiment, run_dial_experiment
from xner.figures import save_figure, show
from xner.modeling import CRFConfig, TrainConfig
from xner.signature import signature, write_table

pair_list = [pairs] if isinstance(pairs, str) else list(pairs)
model_list = [model] if isinstance(model, str) else list(model)
assert model_list, "model is empty: name the CRF ('crf') or an encoder"
assert pair_list, "pairs is empty: name at least one source-target pair, e.g. ['id-ms']"
for name in pair_list:
    config.parse_pair(name)
assert seeds and all(isinstance(s, int) for s in seeds), f"seeds must be a non-empty list of integers, got {seeds}"
assert levels is None or len(levels) >= 2, "give at least two levels (or None for the default ladder)"
assert n_resamples >= 100, "n_resamples below 100 gives no usable percentile interval"
train_config = TrainConfig(
    learning_rate=learning_rate,
    epochs=epochs,
    batch_size=batch_size,
    freeze_embeddings=freeze_embeddings,
    freeze_layers=freeze_layers,
    bf16=bf16,
    head=head,
    max_train_samples=max_train_samples,
    max_eval_samples=max_eval_samples,
    max_predict_samples=max_predict_samples,
    num_threads=num_threads,
    progress=False,
)
crf_config = CRFConfig(max_iterations=crf_iterations)
data.use_data_dir(config.resolve_path(data_dir))
results_dir, figures_dir = config.resolve_path(results_dir), config.resolve_path(figures_dir)
models_dir = results_dir / "models" if models_dir is None else config.resolve_path(models_dir)
print(
    "pairs:",
    pair_list,
    "| models:",
    model_list,
    "| seeds:",
    seeds,
    "| data:",
    data.data_dir() or "the Hugging Face hub",
)

# %% [markdown]
# ## Train at every level
#
# One model per pair × seed × level (or its cached predictions). The table has, per seed and level: the requested
# and achieved JS, the resample's size, distinct sentences and type counts, strict F1 on the target test with a
# bootstrap CI, and the drop F1(level 0) − F1(level) with a paired bootstrap CI.

# %%
runs = {}
for name, m in ((n, m) for m in model_list for n in pair_list):
    runs[name, m] = run_dial_experiment(
        name,
        m,
        train_config=train_config,
        models_dir=models_dir,
        seeds=seeds,
        levels=levels,
        dataset=dataset,
        crf_config=crf_config,
        tol=tol,
        n_resamples=n_resamples,
        slope_max_js=slope_max_js,
        include_original=include_original,
    )
    st = runs[name, m].stats
    print(f"{name} {m}: levels {st['levels']}, trained {st['trained']}, reused {st['cached'] + st['loaded']}")
table = pd.concat([r.table for r in runs.values()], ignore_index=True)
summary = pd.concat([r.summary for r in runs.values()], ignore_index=True)
slopes = pd.concat([r.slopes for r in runs.values()], ignore_index=True)
cols = [
    "pair",
    "model",
    "seed",
    "level",
    "target_js",
    "achieved_js",
    "n_sentences",
    "n_distinct",
    "f1",
    "f1_low",
    "f1_high",
    "drop",
]
table[cols + ["drop_low", "drop_high"]].round(3)

# %% [markdown]
# Per level, pooled over seeds: mean achieved JS, F1 (mean over seeds) and the drop from level 0, with CIs from a
# bootstrap over target test sentences and seeds. The `original` rows above (the capped source set, not resampled)
# are left out here and from the slopes.

# %%
summary.round(3)

# %% [markdown]
# ## Slopes: F1 per bit of JS
#
# Least-squares slope of F1 on the achieved JS, with a percentile CI from a bootstrap over target test sentences
# (the same sentences at every level: paired) and, with several seeds, over seeds. A CI that excludes 0 says the
# type-mix shift alone moves transfer F1 for that pair; `<= 0.2` restricts the fit to the moderate levels.

# %%
slopes.round(3)

# %% [markdown]
# ## Write the tables and the figure
#
# Transfer F1 (mean over seeds, 95 % CI) against the achieved divergence, one line per pair, slope ± CI in the
# legend. The tables carry a signature; the figure is saved as PDF and PNG.

# %%
sig = signature(
    data=dataset,
    split="test",
    stage="08_dial_experiment",
    languages=sorted({lang for name in pair_list for lang in name.split("-")}),
    pairs=pair_list,
    model=model_list,
    seed=list(seeds),
    mode="strict",
    target_mix="target train",
    levels=str(levels),
    max_train_samples=max_train_samples,
    max_eval_samples=max_eval_samples,
    max_predict_samples=max_predict_samples,
    learning_rate=learning_rate,
    epochs=epochs,
    batch_size=batch_size,
    freeze_embeddings=freeze_embeddings,
    freeze_layers=freeze_layers,
    bf16=bf16,
    head=head,
    crf_iterations=crf_iterations,
    n_resamples=n_resamples,
)
written = [
    write_table(table, results_dir / "dial_experiment.csv", sig),
    write_table(summary, results_dir / "dial_summary.csv", sig),
    write_table(slopes, results_dir / "dial_slopes.csv", sig),
]
fig = plot_dial_experiment(summary, slopes, title=f"the divergence dial: {', '.join(model_list)}, {len(seeds)} seed(s)")
written += save_figure(fig, figures_dir / "dial_experiment")
for path in written:
    print(path)
show(written)  # the saved file, shown inline
