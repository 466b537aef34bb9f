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
# # 04 — Training: native, zero-shot and other transfer settings
#
# Fine-tunes an encoder for NER on a language pair under one or more settings — `native` (target train →
# target test), `zero-shot` (source train → target test), `multi-source`, `few-shot` (source plus `few_shot_k`
# target sentences), `translate-train` (the projected data of stage 03), `translate-test` (the zero-shot source
# model tags the target test set's translation into the source language, labels projected back with
# `projection_method` over `aligner`; the translator is `translator`) — next to the feature-CRF baseline,
# trained and evaluated by the same runner (`xner.modeling.transfer.run_setting`). Every row reports strict span
# F1 with a percentile-bootstrap CI on the target test set and on the source's own test set.
#
# The encoder is any Hugging Face name or local folder, `e5-small` (offline default), or the mini encoder
# `mini-<size>` pretrained here on the pair's unlabelled train text (cached). `sizes` adds more mini sizes for
# the scaling axis. Models, predictions and tables go to `results_dir`; learning curves to `figures_dir`.
# The small defaults run in a few minutes on a CPU; `max_*_samples = None` uses the full splits.
#
# The parameters: the pair, the encoder and the settings to train, training sizes and the learning rate; the small
# defaults run in minutes on a CPU.

# %% tags=["parameters"]
pair = "id-ms"  # source-target
model = "e5-small"  # encoder: e5-small (offline default), mini-tiny|mini-small|mini-base, a hub name or a local folder
setting = ["native", "zero-shot"]  # one or a list: native, zero-shot, multi-source, few-shot, translate-train/-test
sizes = []  # more encoders, same settings: mini-small, mini-base beside mini-tiny (lr 1e-3, freeze_* off, bf16 any)
include_crf = True  # also train the feature-CRF baseline
extra_sources = []  # multi-source: source languages besides the pair's source, e.g. ["jv"]
few_shot_k = 100  # few-shot: target training sentences added to the source data
projected = None  # translate-train: CoNLL file or folder written by stage 03 (projection)
translator = "apertium"  # translate-test, target → source: apertium, apertium:<mode> (e.g. apertium:zlm-ind), nllb
projection_method = "heuristic"  # translate-test: heuristic | ngram-ilp | ngram-greedy | model-ilp | heuristic+bt
aligner = "e5"  # translate-test: e5 (multilingual-e5-small) | eflomal (fitted on 2,000 unlabelled target sentences)
epochs = 3  # fine-tuning epochs (early stopping on dev strict F1)
native_epochs = 10  # epochs of the native setting (target data, early stopping on target dev; None: `epochs`)
learning_rate = 5e-4  # peak learning rate (e5-small with 6 layers frozen 5e-4; mini encoders 5e-4…1e-3; XLM-R ~3e-5)
batch_size = 32
head = "crf"  # output layer: "crf" (linear-chain CRF over the encoder's word logits) or "softmax"
freeze_embeddings = True  # freeze the word-embedding matrix (several times faster on CPU for large vocabularies)
freeze_layers = 6  # also freeze all embeddings and the lowest N transformer layers (backward stops there)
bf16 = True  # run the encoder under bf16 autocast (CPUs with AVX-512 BF16/AMX; head, CRF, loss, optimizer stay fp32)
max_train_samples = 1000  # sentences per training language (None: all)
max_eval_samples = 300  # dev sentences per language for early stopping (None: all)
max_predict_samples = None  # test sentences per evaluation set (None: all)
mini_pretrain_epochs = (
    5  # pretraining epochs of a mini encoder (None: the size's default, see xner.modeling.encoders.mini.SIZES)
)
crf_iterations = 100  # L-BFGS iterations of the CRF
seed = 0
dataset = "wikiann"  # dataset of every train/dev/test split
data_dir = None  # local data root; None: $XNER_DATA_DIR, else the hub
n_resamples = 1000  # bootstrap resamples for the CIs
num_threads = None  # torch threads (None: all CPUs this process may use)
# trained models shared by every run that trains on the same data with the same settings (None: no sharing)
model_cache = "results/models/04_training"
results_dir = "results/id-ms/04_training"
figures_dir = "figures/id-ms/04_training"

# %% [markdown]
# Check the parameters and resolve the settings and encoders, so that a bad name fails before any training.

# %%
import dataclasses

import pandas as pd

from xner import config, data
from xner.figures import save_figure, show
from xner.modeling import CRFConfig, TrainConfig
from xner.modeling.encoders import resolve_encoder
from xner.modeling.encoders.mini import MiniConfig
from xner.modeling.figures import f1_by_model, learning_curves
from xner.modeling.transfer import SETTINGS, run_setting, spec_for
from xner.projection.compare import TEST_METHOD_NAMES, translate_test_tagger
from xner.projection.translate_test import translator_from_spec
from xner.signature import signature, write_table

pair_ = config.parse_pair(pair)
source_lang, target_lang = pair_.source, pair_.target
settings = [setting] if isinstance(setting, str) else list(setting)
unknown = [s for s in settings if s not in SETTINGS]
assert settings and not unknown, f"unknown settings {unknown}; choose from {SETTINGS}"
assert "translate-train" not in settings or projected, "translate-train needs projected=<stage-03 CoNLL file or folder>"
assert "multi-source" not in settings or extra_sources, "multi-source needs extra_sources, e.g. ['jv']"
if "translate-test" in settings:
    assert projection_method in TEST_METHOD_NAMES, f"projection_method must be one of {list(TEST_METHOD_NAMES)}"
    assert aligner in ("e5", "eflomal"), "aligner must be 'e5' or 'eflomal'"
    mt, mt_from, mt_to = translator_from_spec(translator)
    assert mt_from is None or (mt_from, mt_to) == (target_lang, source_lang), (
        f"translator {translator} translates {mt_from}→{mt_to}; translate-test needs {target_lang}→{source_lang}"
    )
for lang in extra_sources:
    config.language(lang)
encoders = list(dict.fromkeys([model, *sizes]))
train_config = TrainConfig(
    model=model,
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
    seed=seed,
    num_threads=num_threads,
    progress=False,
)
data.use_data_dir(config.resolve_path(data_dir))
results_dir, figures_dir = config.resolve_path(results_dir), config.resolve_path(figures_dir)
model_cache = config.resolve_path(model_cache)
print(
    "pair:",
    pair,
    "| settings:",
    settings,
    "| encoders:",
    encoders,
    "| CRF:",
    include_crf,
    "| data:",
    data.data_dir() or "the Hugging Face hub",
)


# %% [markdown]
# ## Encoders
#
# Mini encoders are pretrained once on the unlabelled train text of every language involved (no labels) and
# cached; hub names and folders are checked here so that a missing model fails before any training.
#
# Resolve each encoder to a checkpoint (a mini encoder is pretrained here once and cached).


# %%
def spec_of(name: str):
    """The transfer spec of one setting for this pair."""
    sources = [source_lang, *extra_sources] if name == "multi-source" else [source_lang]
    return spec_for(name, "+".join(sources), target_lang, k=few_shot_k, projected=projected, dataset=dataset)


languages = sorted({lang for s in settings for lang in spec_of(s).languages})
resolved = {}
for enc in encoders:
    mini_cfg = (
        MiniConfig(size=enc.split("-", 1)[1], epochs=mini_pretrain_epochs, num_threads=num_threads, progress=False)
        if enc.startswith("mini-")
        else None
    )
    resolved[enc] = resolve_encoder(enc, languages=languages, seed=0, mini_config=mini_cfg)
pd.DataFrame({"encoder": list(resolved), "checkpoint": list(resolved.values())})

# %% [markdown]
# ## Train and evaluate every setting × model
#
# Train and evaluate each setting × model: the CRF baseline and the encoders on the same data, evaluated on the
# target test set and on the source's own test set. translate-test reuses the zero-shot model (the model cache
# shares it) and is scored on the target test set only, through translation and projection.


# %%
def test_tagger_of(name: str):
    """translate-test: the source model → a tagger of target sentences through translation and projection."""
    if name != "translate-test":
        return None
    target_train = data.load_split(target_lang, "train", dataset) if aligner == "eflomal" else None
    return lambda model: translate_test_tagger(
        model,
        mt,
        src_lang=source_lang,
        tgt_lang=target_lang,
        method=projection_method,
        aligner=aligner,
        target_train=target_train,
    )


rows, histories, runs = [], [], []
for name in settings:
    spec = spec_of(name)
    epochs_of = native_epochs if name == "native" and native_epochs else epochs
    setting_config = dataclasses.replace(train_config, epochs=epochs_of)
    test_tagger = test_tagger_of(name)
    for m in (["crf"] if include_crf else []) + encoders:
        run_dir = results_dir / "models" / f"{name}-{spec.source}-{target_lang}-{m.replace('/', '_')}-s{seed}"
        res = run_setting(
            spec,
            m,
            train_config=setting_config,
            encoder=resolved.get(m),
            crf_config=CRFConfig(max_iterations=crf_iterations),
            output_dir=run_dir,
            n_resamples=n_resamples,
            model_cache=model_cache,
            test_tagger=test_tagger,
        )
        rows.append(res.rows)
        if res.history is not None:
            histories.append(res.history.assign(run=f"{m} · {name}"))
        runs.append(
            {
                "setting": name,
                "model": m,
                "train_seconds": round(res.stats["train_seconds"], 1),
                "reused": res.stats["model_reused"],
                "n_train_sentences": res.stats["n_train_sentences"],
                "folder": str(run_dir),
            }
        )
        how = "reused from the model cache (trained in" if res.stats["model_reused"] else "trained in"
        print(f"{name:15s} {m:12s} {how} {res.stats['train_seconds']:.0f} s{')' if res.stats['model_reused'] else ''}")
table = pd.concat(rows, ignore_index=True)
pd.DataFrame(runs)

# %% [markdown]
# Strict span F1 with its 95 % bootstrap interval for every setting, model and evaluation language: the gap between
# native and zero-shot on the target is the transfer drop.

# %%
table[
    [
        "setting",
        "source",
        "model",
        "eval_lang",
        "n_sentences",
        "precision",
        "recall",
        "f1",
        "f1_low",
        "f1_high",
        "lenient_f1",
    ]
].round(3)

# %% [markdown]
# Beside the published numbers: means over 13 WikiANN pairs (Manafi & Krishnaswamy 2024) and, for id→ms, the
# zero-shot F1 of mBERT and XLM-R base; ours below, target test F1 per model and setting.

# %%
published = pd.DataFrame(
    {"native": [0.926, 0.907], "zero-shot": [0.747, 0.704], "zero-shot id→ms": [0.69, 0.70]},
    index=pd.Index(["mBERT", "XLM-R base"], name="published"),
)
display(published)
table[table["eval_lang"] == target_lang].pivot_table(index="model", columns="setting", values="f1").round(3)

# %% [markdown]
# ## Write the table and the figures
#
# Write the table and the learning curves, and show the figures: learning curves per run, and F1 by model with its
# confidence interval.

# %%
sig = signature(
    data=dataset,
    split="test",
    languages=[source_lang, target_lang],
    model=encoders + (["crf"] if include_crf else []),
    seed=seed,
    mode="strict",
    stage="04_training",
    settings=settings,
    max_train_samples=max_train_samples,
    epochs=epochs,
    native_epochs=native_epochs,
    learning_rate=learning_rate,
    head=head,
    **(
        {"translator": translator, "projection": f"{projection_method}/{aligner}"}
        if "translate-test" in settings
        else {}
    ),
)
written = [write_table(table, results_dir / "training.csv", sig)]
if histories:
    history = pd.concat(histories, ignore_index=True)
    written.append(write_table(history, results_dir / "learning_curves.csv", sig))
    written += save_figure(learning_curves(history, title=f"{pair}: learning curves"), figures_dir / "learning_curves")
written += save_figure(f1_by_model(table, title=f"{pair}: strict F1 (95 % CI)"), figures_dir / "f1_by_model")
for path in written:
    print(path)
show(written)  # the figures, as saved
