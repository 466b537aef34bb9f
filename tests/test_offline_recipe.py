"""The offline encoder recipe has one home: stage 04_training of configs/offline.yaml, read by offline_recipe."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from xner.config import ConfigError, config_dir
from xner.modeling.config import TrainConfig, offline_recipe
from xner.projection.compare import recipe_config

FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def test_recipe_equals_the_yaml_stage():
    stage = yaml.safe_load((config_dir() / "offline.yaml").read_text(encoding="utf-8"))["stages"]["04_training"]
    recipe = offline_recipe()
    assert recipe == {k: v for k, v in stage.items() if k in FIELDS}
    # the recipe of issue 14, as the main job trains it (not the old lr 1e-4 / batch 16 / 2 epochs)
    assert recipe["learning_rate"] == 5e-4 and recipe["batch_size"] == 32 and recipe["epochs"] == 3
    assert recipe["freeze_layers"] == 6 and recipe["bf16"] is True and recipe["freeze_embeddings"] is True
    assert isinstance(recipe["learning_rate"], float)  # YAML reads 5.0e-4 as a float, 5e-4 as a string
    cfg = recipe_config("e5-small", num_threads=1)
    assert (cfg.learning_rate, cfg.epochs, cfg.batch_size, cfg.freeze_layers) == (5e-4, 3, 32, 6)
    assert cfg.model == "e5-small" and cfg.num_threads == 1 and cfg.progress is False


def test_keys_that_are_not_train_config_fields_are_ignored(tmp_path, monkeypatch):
    (tmp_path / "offline.yaml").write_text(
        "stages:\n  04_training:\n    setting: [native, zero-shot]\n    include_crf: true\n    native_epochs: 9\n"
        "    model_cache: '{R}/models'\n    learning_rate: 5e-4\n    epochs: 2\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("XNER_CONFIG_DIR", str(tmp_path))
    assert offline_recipe() == {"learning_rate": 5e-4, "epochs": 2}  # "5e-4" (a YAML string) converted


@pytest.mark.parametrize(
    "text, match",
    [
        (None, "configuration file not found"),
        ("stages: [a, b]\n", "expected a mapping stages"),
        ("stages:\n  03_projection: {}\n", "expected a mapping stages"),
        ("stages:\n  04_training:\n    epochs: many\n", "stage '04_training'"),
        ("stages: {04_training: [\n", "not valid YAML"),
    ],
)
def test_a_missing_or_bad_file_is_an_error_naming_it(tmp_path, text, match):
    path = tmp_path / "offline.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match) as err:
        offline_recipe(path)
    assert str(path) in str(err.value)
