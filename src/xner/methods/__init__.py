"""Question 4: which transfer method is most robust? Methods trained without target labels, under attack.

* :mod:`~xner.methods.config` — the methods and their settings; the scale axis's encoders;
* :mod:`~xner.methods.train` — one trainer per method (``direct``, ``multi-source``, ``distill``, ``lora``, ``madx``);
* :mod:`~xner.methods.distill` — teacher–student distillation (Wu et al. 2020);
* :mod:`~xner.methods.adapters` — LoRA and MAD-X-style adapters through ``peft``;
* :mod:`~xner.methods.compare` — the perturbation suite over all methods, paired tests against a baseline;
* :mod:`~xner.methods.plots` — the method × perturbation heatmap;
* ``python -m xner.methods`` — the whole comparison from a shell.
"""

from xner.methods.compare import (
    DEFAULT_PERTURBATIONS,
    MethodsEvaluation,
    drop_difference,
    evaluate_methods,
    robustness_summary,
    run_comparison,
    summary_markdown,
    write_evaluation,
)
from xner.methods.config import (
    METHOD_OF_SETTING,
    METHODS,
    RECIPES,
    SETTING,
    TRAIN_SETTINGS,
    MethodConfig,
    MethodError,
    TrainedMethod,
    encoder_settings,
    recipe_settings,
    scale_encoders,
)
from xner.methods.plots import drop_matrix, plot_method_heatmap
from xner.methods.train import CachedPredictor, language_adapter, train_method

__all__ = [
    "CachedPredictor",
    "DEFAULT_PERTURBATIONS",
    "METHODS",
    "METHOD_OF_SETTING",
    "MethodConfig",
    "MethodError",
    "MethodsEvaluation",
    "RECIPES",
    "SETTING",
    "TRAIN_SETTINGS",
    "TrainedMethod",
    "drop_difference",
    "drop_matrix",
    "encoder_settings",
    "evaluate_methods",
    "language_adapter",
    "plot_method_heatmap",
    "recipe_settings",
    "robustness_summary",
    "run_comparison",
    "scale_encoders",
    "summary_markdown",
    "train_method",
    "write_evaluation",
]
