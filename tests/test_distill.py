"""Teacher–student distillation: similarity weights, soft targets, losses, and a tiny end-to-end student."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from xner.methods.distill import (
    DistillConfig,
    DistillError,
    distill,
    distill_loss,
    soft_batch,
    softmax_weights,
    source_weights,
    teacher_probabilities,
    vocabulary_similarity,
)
from xner.modeling.tokenize import Feature

pytestmark = pytest.mark.slow  # trains models or runs the workflow

SENTS = {
    "id": [
        ["Joko", "Widodo", "tinggal", "di", "Jakarta"],
        ["Bank", "Indonesia", "buka"],
        ["di", "Bandung", "dan", "Surabaya"],
    ],
    "ms": [
        ["Anwar", "Ibrahim", "tinggal", "di", "Jakarta"],
        ["Bank", "Negara", "Malaysia", "buka"],
        ["di", "Kuala", "Lumpur"],
    ],
    "nl": [
        ["Mark", "Rutte", "woont", "in", "Den", "Haag"],
        ["De", "Nederlandsche", "Bank", "opent"],
        ["in", "Utrecht", "en", "Delft"],
    ],
}
TAGS = {
    "id": [["B-PER", "I-PER", "O", "O", "B-LOC"], ["B-ORG", "I-ORG", "O"], ["O", "B-LOC", "O", "B-LOC"]],
    "nl": [
        ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC"],
        ["B-ORG", "I-ORG", "I-ORG", "O"],
        ["O", "B-LOC", "O", "B-LOC"],
    ],
}


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    """An untrained 2-layer BERT with a WordPiece tokenizer over the fixture text (a real checkpoint folder)."""
    from xner.modeling.encoders.mini import MiniConfig, pretrain

    text = [s for v in SENTS.values() for s in v] * 3
    cfg = MiniConfig(size="tiny", epochs=0, vocab_size=200, min_frequency=1, progress=False, num_threads=1)
    return str(pretrain(text, cfg, tmp_path_factory.mktemp("enc")))


def _teacher(encoder, lang, seed=0, epochs=8):
    from xner.data import from_lists
    from xner.modeling import TrainConfig, train_ner

    ds = from_lists(SENTS[lang] * 4, TAGS[lang] * 4, lang=lang, label_set="wikiann")
    cfg = TrainConfig(
        model=encoder,
        epochs=epochs,
        learning_rate=5e-3,
        batch_size=4,
        seed=seed,
        progress=False,
        early_stopping_patience=None,
        num_threads=1,
    )
    return train_ner(ds, None, cfg, encoder=encoder).model


def test_softmax_weights_order_and_sum():
    w = softmax_weights([0.9, 0.8], 0.05)
    assert math.isclose(w.sum(), 1.0) and w[0] > w[1]
    assert np.allclose(softmax_weights([0.5, 0.5], 0.01), [0.5, 0.5])
    with pytest.raises(DistillError):
        softmax_weights([1.0], 0.0)


def test_vocabulary_similarity_ranks_related_language_higher():
    assert vocabulary_similarity(SENTS["id"], SENTS["ms"]) > vocabulary_similarity(SENTS["nl"], SENTS["ms"])
    ws = source_weights({"id": SENTS["id"], "nl": SENTS["nl"]}, SENTS["ms"], measure="vocabulary")
    assert [w.source for w in ws] == ["id", "nl"] and ws[0].weight > ws[1].weight
    assert math.isclose(sum(w.weight for w in ws), 1.0)


def test_embedding_similarity_is_reported(tiny_encoder):
    ws = source_weights({"id": SENTS["id"], "nl": SENTS["nl"]}, SENTS["ms"], measure="embedding", encoder=tiny_encoder)
    assert all(-1.0 <= w.similarity <= 1.0 and w.measure == "embedding" for w in ws)
    assert math.isclose(sum(w.weight for w in ws), 1.0, rel_tol=1e-9)


def test_soft_batch_places_targets_at_first_subwords():
    f = Feature(input_ids=[1, 5, 6, 7, 2], labels=[-100] * 5, word_index=[-1, 0, -1, 1, -1], sentence=0)
    probs = [np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32)]
    t, m = soft_batch([f], probs, width=6, n_labels=2)
    assert m[0].tolist() == [False, True, False, True, False, False]
    assert torch.allclose(t[0, 1], torch.tensor([0.9, 0.1])) and torch.allclose(t[0, 3], torch.tensor([0.2, 0.8]))


def test_distill_loss_zero_when_student_matches_teacher():
    logits = torch.tensor([[[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]]])
    target = torch.softmax(logits, -1)
    mask = torch.tensor([[True, True]])
    assert float(distill_loss(logits, target, mask, "mse")) < 1e-10
    assert abs(float(distill_loss(logits, target, mask, "kl", 1.0))) < 1e-6
    other = torch.softmax(torch.zeros_like(logits), -1)
    assert float(distill_loss(logits, other, mask, "mse")) > 0.01
    with pytest.raises(DistillError):
        distill_loss(logits, target, mask, "hinge")
    with pytest.raises(DistillError):
        DistillConfig(loss="mse", temperature=2.0)


def test_teacher_mixture_is_the_weighted_average(tiny_encoder):
    a, b = _teacher(tiny_encoder, "id", epochs=2), _teacher(tiny_encoder, "nl", seed=1, epochs=2)
    pa, pb = teacher_probabilities([a], [1.0], SENTS["ms"]), teacher_probabilities([b], [1.0], SENTS["ms"])
    mix = teacher_probabilities([a, b], [0.25, 0.75], SENTS["ms"])
    for x, y, m in zip(pa, pb, mix, strict=True):
        assert np.allclose(0.25 * x + 0.75 * y, m, atol=1e-6)
        assert np.allclose(m.sum(-1), 1.0, atol=1e-5)
    with pytest.raises(DistillError):
        teacher_probabilities([a, b], [0.5, 0.6], SENTS["ms"])


def test_student_learns_the_teacher_and_reloads(tiny_encoder, tmp_path):
    from xner.modeling import NERModel, TrainConfig

    teacher = _teacher(tiny_encoder, "id")
    text = SENTS["ms"] * 6
    cfg = TrainConfig(model=tiny_encoder, epochs=10, learning_rate=5e-3, batch_size=4, progress=False, num_threads=1)
    res = distill(
        {"id": teacher},
        text,
        tiny_encoder,
        cfg,
        DistillConfig(loss="kl", temperature=2.0, epochs=None, batch_size=None, freeze_bottom_layers=0),
        output_dir=tmp_path / "student",
    )
    t_pred = teacher.predict(SENTS["ms"])
    s_pred = res.model.predict(SENTS["ms"])
    agree = np.mean([a == b for ts, ss in zip(t_pred, s_pred, strict=True) for a, b in zip(ts, ss, strict=True)])
    assert agree >= 0.7, (t_pred, s_pred)
    assert res.history["train_loss"].iloc[-1] < res.history["train_loss"].iloc[0]
    assert res.weights[0].weight == 1.0
    loaded = NERModel.load(tmp_path / "student")
    assert loaded.predict(SENTS["ms"]) == s_pred


def test_student_takes_the_recipes_bf16_and_frozen_layers(tiny_encoder, tmp_path):
    """The offline recipe (bf16, more frozen layers than the reference's 3) applies to the student too."""
    from xner.modeling import NERModel, TrainConfig

    teacher = _teacher(tiny_encoder, "id")
    cfg = TrainConfig(
        model=tiny_encoder, epochs=3, learning_rate=5e-3, batch_size=4, progress=False, num_threads=1,
        freeze_layers=1, bf16=True,
    )  # fmt: skip
    res = distill(
        {"id": teacher},
        SENTS["ms"] * 4,
        tiny_encoder,
        cfg,
        DistillConfig(loss="mse", epochs=None, batch_size=None, freeze_bottom_layers=0),
        output_dir=tmp_path / "student",
    )
    model = res.model.model
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert res.stats["frozen_parameters"] > 0 and any("layer.0." in f for f in frozen)
    assert not any("layer.1." in f for f in frozen)
    assert res.history["train_loss"].iloc[-1] < res.history["train_loss"].iloc[0]
    # trained under bf16 autocast, predicting in float32 as the saved checkpoint does
    assert res.model.bf16 is False
    assert NERModel.load(tmp_path / "student").predict(SENTS["ms"]) == res.model.predict(SENTS["ms"])


def test_multi_source_needs_source_text(tiny_encoder):
    from xner.modeling import TrainConfig

    t = _teacher(tiny_encoder, "id", epochs=1)
    with pytest.raises(DistillError, match="source_texts"):
        distill(
            {"id": t, "nl": t}, SENTS["ms"], tiny_encoder, TrainConfig(model=tiny_encoder, epochs=1, progress=False)
        )


def test_distill_defaults_match_the_reference_budget(tiny_encoder):
    """SingleMulti-TS (microsoft/vert-papers) defaults: 3 epochs, batch 32, lr 1e-4, embeddings + bottom 3 layers
    frozen, the full unlabelled target text, and τ from the data."""
    from xner.methods import MethodConfig
    from xner.methods.distill import REFERENCE_BUDGET, budget, freeze_bottom
    from xner.modeling import TrainConfig
    from xner.modeling.train import load_token_classifier

    d = DistillConfig()
    assert (d.epochs, d.batch_size, d.freeze_bottom_layers, d.weight_temperature) == (3, 32, 3, "data")
    assert REFERENCE_BUDGET["learning_rate"] == 1e-4 == MethodConfig("distill", "ms", ("id",)).learning_rate
    assert MethodConfig("distill", "ms", ("id",)).max_unlabeled is None
    cfg = budget(TrainConfig(model=tiny_encoder, epochs=1, batch_size=16, learning_rate=5e-4), d)
    assert (cfg.epochs, cfg.batch_size, cfg.learning_rate) == (3, 32, 5e-4)  # unset: the shared rate
    assert budget(cfg, DistillConfig(learning_rate=1e-4)).learning_rate == 1e-4  # the student's own
    mc = MethodConfig("distill", "ms", ("id",))
    own = MethodConfig("distill", "ms", ("id",), distill=DistillConfig(learning_rate=1e-4))
    assert own.key() != mc.key()  # a student's own rate is a different model …
    assert MethodConfig("distill", "ms", ("id",), distill=DistillConfig()).key() == mc.key()  # … unset, the same
    model = load_token_classifier(tiny_encoder, ["O", "B-PER", "I-PER"])
    with pytest.raises(DistillError, match="has 2 layers"):
        freeze_bottom(model, 3)
    n = freeze_bottom(model, 1)
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert n > 0 and any("embeddings" in f for f in frozen) and any("layer.0." in f for f in frozen)
    assert not any("layer.1." in f for f in frozen) and not any("classifier" in f for f in frozen)


def test_a_teacher_can_have_its_own_settings():
    """``teacher_settings`` reach the teacher of that source only; unset, no student's cache key moves."""
    from xner.methods import MethodConfig

    mc = MethodConfig("distill", "ms", ("id", "nl"), learning_rate=5e-4, epochs=3)
    d = DistillConfig(teacher_settings={"nl": {"learning_rate": 1e-4, "epochs": 8.0}})
    own = MethodConfig("distill", "ms", ("id", "nl"), learning_rate=5e-4, epochs=3, distill=d)
    nl, id_ = own.teacher("nl"), own.teacher("id")
    assert (nl.learning_rate, nl.epochs, id_.learning_rate, id_.epochs) == (1e-4, 8, 5e-4, 3)
    assert isinstance(nl.epochs, int) and nl.method == "direct" and nl.used_sources == ("nl",)
    assert id_.key() == mc.teacher("id").key()  # the other teacher is the same model
    assert nl.key() != mc.teacher("nl").key() and own.key() != mc.key()
    unset = MethodConfig("distill", "ms", ("id", "nl"), learning_rate=5e-4, epochs=3, distill=DistillConfig())
    assert unset.key() == mc.key()
    # a student is shaped by its own teachers' settings only: the id-only student ignores nl's
    single = MethodConfig("distill", "ms", ("id",), learning_rate=5e-4, epochs=3)
    assert dataclasses.replace(single, distill=d).key() == single.key()
    for bad, match in (
        ({"nl": {"learning_rate": 0.0}}, "learning_rate=0.0; expected a number > 0"),
        ({"nl": {"learning_rate": "fast"}}, "expected a number > 0"),
        ({"nl": {"epochs": 2.5}}, "epochs=2.5; expected a whole number"),
        ({"nl": {"batch_size": 8}}, "'batch_size' is not a teacher setting"),
    ):
        with pytest.raises(DistillError, match=match):
            DistillConfig(teacher_settings=bad)


def test_data_temperature_is_inverse_variance():
    from xner.methods.distill import data_temperature_weights

    sim = np.array([[0.80, 0.78], [0.82, 0.79], [0.81, 0.80]])
    w, tau = data_temperature_weights(sim)
    assert tau == pytest.approx(np.var(sim, ddof=1))
    z = sim / tau - (sim / tau).max(axis=1, keepdims=True)
    expected = (np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)).mean(axis=0)
    np.testing.assert_allclose(w, expected)
    assert w[0] > w[1] and w.sum() == pytest.approx(1.0)
    with pytest.raises(DistillError, match="var"):
        data_temperature_weights(np.full((3, 2), 0.5))


def test_data_temperature_weights_from_an_encoder(tiny_encoder):
    ws = source_weights(
        {"id": SENTS["id"], "nl": SENTS["nl"]},
        SENTS["ms"],
        measure="embedding",
        encoder=tiny_encoder,
        temperature="data",
    )
    assert [w.measure for w in ws] == ["embedding/data-τ"] * 2 and ws[0].temperature > 0
    assert sum(w.weight for w in ws) == pytest.approx(1.0)
