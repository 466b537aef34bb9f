"""LoRA and MAD-X adapters through peft: training, head kept trainable, save → reload scores the same."""

from __future__ import annotations

import json

import pytest

from xner.methods.adapters import (
    AdapterConfig,
    AdapterError,
    MLMConfig,
    head_modules,
    load_adapter_model,
    merge_adapter,
    swap_language,
    train_language_adapter,
    train_lora_ner,
    train_madx,
)

pytestmark = pytest.mark.slow  # trains models or runs the workflow

ID = [
    ["Joko", "Widodo", "tinggal", "di", "Jakarta"],
    ["Bank", "Indonesia", "buka"],
    ["di", "Bandung", "dan", "Surabaya"],
]
ID_TAGS = [["B-PER", "I-PER", "O", "O", "B-LOC"], ["B-ORG", "I-ORG", "O"], ["O", "B-LOC", "O", "B-LOC"]]
MS = [["Anwar", "Ibrahim", "tinggal", "di", "Kuala", "Lumpur"], ["Bank", "Negara", "Malaysia", "buka"]]


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    """An untrained 2-layer BERT (with its MLM head) and a WordPiece tokenizer over the fixture text."""
    from xner.modeling.encoders.mini import MiniConfig, pretrain

    cfg = MiniConfig(size="tiny", epochs=0, vocab_size=150, min_frequency=1, progress=False, num_threads=1)
    return str(pretrain((ID + MS) * 3, cfg, tmp_path_factory.mktemp("enc")))


@pytest.fixture(scope="module")
def train_ds():
    from xner.data import from_lists

    return from_lists(ID * 4, ID_TAGS * 4, lang="id", label_set="wikiann")


def _cfg(encoder, epochs=6):
    from xner.modeling import TrainConfig

    return TrainConfig(
        model=encoder, epochs=epochs, batch_size=4, progress=False, early_stopping_patience=None, num_threads=1
    )


def test_lora_trains_few_parameters_and_learns(tiny_encoder, train_ds, tmp_path):
    res = train_lora_ner(
        train_ds,
        train_ds,
        tiny_encoder,
        _cfg(tiny_encoder),
        AdapterConfig(r=4, learning_rate=1e-2),
        output_dir=tmp_path / "lora",
    )
    assert res.stats["trainable_parameters"] < 0.5 * res.stats["total_parameters"]
    names = [n for n, p in res.model.model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in names) and any("classifier" in n for n in names)
    assert not any("word_embeddings" in n for n in names)
    assert res.history["dev_f1"].max() > 0.3
    cfg = json.loads((tmp_path / "lora" / "adapter" / "task" / "adapter_config.json").read_text())
    assert set(head_modules(res.model.model.base_model.model)) <= set(cfg["modules_to_save"])


def test_lora_save_reload_scores_the_same(tiny_encoder, train_ds, tmp_path):
    from xner.modeling import NERModel

    res = train_lora_ner(
        train_ds,
        None,
        tiny_encoder,
        _cfg(tiny_encoder, 3),
        AdapterConfig(r=4, learning_rate=1e-2),
        output_dir=tmp_path / "lora",
    )
    before = res.model.predict_proba(ID + MS)
    loaded = load_adapter_model(tmp_path / "lora")
    after = loaded.predict_proba(ID + MS)
    assert all(abs(a - b).max() < 1e-5 for a, b in zip(before, after, strict=True))
    merged = merge_adapter(loaded)
    merged.save(tmp_path / "merged")
    again = NERModel.load(tmp_path / "merged").predict_proba(ID + MS)
    assert all(abs(a - b).max() < 1e-4 for a, b in zip(before, again, strict=True))


def test_madx_stacks_and_swaps_language_adapters(tiny_encoder, train_ds, tmp_path):
    mlm = MLMConfig(epochs=2, batch_size=4, progress=False, num_threads=1)
    lo = AdapterConfig(r=4, learning_rate=1e-2)
    src = train_language_adapter(tiny_encoder, ID * 3, "id", tmp_path / "lang-id", lo, mlm)
    tgt = train_language_adapter(tiny_encoder, MS * 3, "ms", tmp_path / "lang-ms", lo, mlm)
    info = json.loads((src / "language_adapter.json").read_text())
    assert info["language"] == "id" and len(info["history"]) == 2
    res = train_madx(
        train_ds,
        None,
        tiny_encoder,
        {"id": src, "ms": tgt},
        "id",
        "ms",
        _cfg(tiny_encoder, 3),
        lo,
        output_dir=tmp_path / "madx",
    )
    model = res.model.model
    frozen = [n for n, p in model.named_parameters() if ".lang." in n]
    assert frozen and not any(p.requires_grad for n, p in model.named_parameters() if ".lang." in n)
    on_ms = res.model.predict_proba(MS)
    swap_language(res.model, "id")
    on_id_adapter = res.model.predict_proba(MS)
    assert any(abs(a - b).max() > 1e-6 for a, b in zip(on_ms, on_id_adapter, strict=True)), (
        "the language adapter changes nothing"
    )
    loaded = load_adapter_model(tmp_path / "madx")
    assert loaded.adapter_meta["active_language"] == "ms"
    assert all(abs(a - b).max() < 1e-5 for a, b in zip(on_ms, loaded.predict_proba(MS), strict=True))
    with pytest.raises(AdapterError):
        swap_language(loaded, "xx")


def test_language_adapter_on_ffn_learns_and_stacks_with_a_task_adapter(tiny_encoder, train_ds, tmp_path):
    """MAD-X placement (FFN projections), held-out MLM loss before/after recorded, and the swap with a task adapter
    of other target modules."""
    from transformers import AutoConfig

    from xner.methods.adapters import FFN_MODULES, madx_language_lora

    assert madx_language_lora().target_modules == FFN_MODULES and madx_language_lora().r == 40
    mlm = MLMConfig(epochs=6, batch_size=4, learning_rate=1e-2, progress=False, num_threads=1)
    lang_lo = AdapterConfig(r=4, target_modules=FFN_MODULES)
    src = train_language_adapter(tiny_encoder, ID * 3, "id", tmp_path / "lang-id", lang_lo, mlm, heldout=ID)
    tgt = train_language_adapter(tiny_encoder, MS * 3, "ms", tmp_path / "lang-ms", lang_lo, mlm, heldout=MS)
    info = json.loads((src / "language_adapter.json").read_text())
    conf = AutoConfig.from_pretrained(tiny_encoder)
    # only FFN projections: layers · r · 2 · (hidden + intermediate)
    expected = conf.num_hidden_layers * 4 * 2 * (conf.hidden_size + conf.intermediate_size)
    assert info["adapter_parameters"] == expected
    assert info["heldout_mlm_loss_after"] < info["heldout_mlm_loss_before"]
    assert "heldout_mlm_loss_after_adapter_off" in info and info["n_heldout_sentences"] == len(ID)
    res = train_madx(
        train_ds, None, tiny_encoder, {"id": src, "ms": tgt}, "id", "ms", _cfg(tiny_encoder, 1), AdapterConfig(r=4)
    )
    on_ms = res.model.predict_proba(MS)
    swap_language(res.model, "id")
    assert any(abs(a - b).max() > 1e-6 for a, b in zip(on_ms, res.model.predict_proba(MS), strict=True))
