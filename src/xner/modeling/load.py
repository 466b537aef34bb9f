"""Loading a saved predictor of any kind: a fine-tuned checkpoint folder or a feature CRF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xner.modeling.crf import CRFTagger
from xner.modeling.predict import ModelLoadError, NERModel


def load_predictor(path: str | Path, **kwargs: Any) -> NERModel | CRFTagger:
    """Load a saved predictor of any kind: a fine-tuned checkpoint folder (``config.json``) or a CRF
    (``model.crfsuite``); ``path`` may also be a run folder of :func:`xner.modeling.transfer.run_setting`
    (``<run>/model``)."""
    p = Path(path)
    if (p / "model").is_dir() and not (p / "config.json").is_file() and not (p / "model.crfsuite").is_file():
        p = p / "model"
    if (p / "model.crfsuite").is_file():
        return CRFTagger.load(p)
    if (p / "config.json").is_file():
        return NERModel.load(p, **kwargs)
    raise ModelLoadError(f"{path}: neither a fine-tuned checkpoint (config.json) nor a CRF (model.crfsuite)")
