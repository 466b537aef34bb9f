"""Stage 04: fine-tuning any encoder for NER, and the feature-CRF baseline.

* :mod:`xner.modeling.config` — :class:`TrainConfig` (dataclass with help text, loadable from YAML);
* :mod:`xner.modeling.tokenize` — first-sub-word alignment and windows for long sentences;
* :mod:`xner.modeling.train` — :func:`train_ner` (plain torch loop, early stopping on dev strict F1);
* :mod:`xner.modeling.predict` — :class:`NERModel`, the predictor ``predict(tokens) -> tags``;
* :mod:`xner.modeling.crf_head` — an optional linear-chain CRF output layer for any encoder (``head="crf"``);
* :mod:`xner.modeling.crf` — :class:`CRFTagger`, the feature-CRF baseline with the same interface;
* :mod:`xner.modeling.figures` — learning curves.

The settings (native, zero-shot, multi-source, few-shot, translate-train, translate-test) are run by
:mod:`xner.modeling.transfer`.
"""

from xner.config import ConfigError
from xner.modeling.config import TrainConfig, describe, load_config, save_config
from xner.modeling.crf import CRFConfig, CRFTagger, train_crf
from xner.modeling.load import load_predictor
from xner.modeling.predict import ModelLoadError, NERModel, load_tokenizer
from xner.modeling.train import TrainingDataError, TrainResult, train_ner

__all__ = [
    "CRFConfig",
    "CRFTagger",
    "ConfigError",
    "ModelLoadError",
    "NERModel",
    "TrainConfig",
    "TrainResult",
    "TrainingDataError",
    "describe",
    "load_config",
    "load_predictor",
    "load_tokenizer",
    "save_config",
    "train_crf",
    "train_ner",
]
