"""The linear-chain CRF output layer: likelihood against brute force, decoding, training, saving."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from xner.labels import WIKIANN, validate_iob2
from xner.modeling import NERModel, TrainConfig, train_ner
from xner.modeling.crf_head import CRFHead, word_emissions
from xner.modeling.decode import viterbi

pytestmark = pytest.mark.slow  # trains models or runs the workflow

LABELS = ("O", "B-PER", "I-PER")


def _path_score(head, em, seq):
    start, end, trans = (x.detach().numpy() for x in head.scores())
    s = start[seq[0]] + em[0, seq[0]] + end[seq[-1]]
    for t in range(1, len(seq)):
        s += trans[seq[t - 1], seq[t]] + em[t, seq[t]]
    return s


def test_nll_and_viterbi_match_brute_force():
    torch.manual_seed(0)
    head = CRFHead(LABELS)
    with torch.no_grad():
        for p in head.parameters():
            p.normal_()
    em = torch.randn(2, 4, 3)
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    tags = torch.tensor([[1, 2, 0, 1], [0, 1, 2, 0]])
    nll = head.nll(em, tags, mask)
    expected = 0.0
    for b, n in enumerate([4, 3]):
        e = em[b, :n].numpy().astype(np.float64)
        scores = [_path_score(head, e, seq) for seq in itertools.product(range(3), repeat=n)]
        log_z = np.log(np.exp(np.array(scores) - max(scores)).sum()) + max(scores)
        expected += log_z - _path_score(head, e, tags[b, :n].tolist())
        sc = head.to_numpy()
        best = viterbi(e, sc["start"], sc["end"], sc["trans"])
        assert _path_score(head, e, best) == pytest.approx(max(scores))
        assert not validate_iob2([LABELS[i] for i in best])
    assert float(nll.detach()) == pytest.approx(expected, rel=1e-4)


def test_word_emissions_left_aligns_labelled_positions():
    logits = torch.arange(2 * 5 * 3, dtype=torch.float).reshape(2, 5, 3)
    labels = torch.tensor([[-100, 1, -100, 2, -100], [-100, 0, -100, -100, -100]])
    em, tags, mask = word_emissions(logits, labels)
    assert em.shape == (2, 2, 3) and mask.tolist() == [[True, True], [True, False]]
    assert torch.equal(em[0, 1], logits[0, 3]) and tags.tolist() == [[1, 2], [0, 0]]


def test_crf_head_trains_saves_and_reloads(tiny_checkpoint, toy_dataset, tmp_path):
    enc = tiny_checkpoint(tmp_path / "enc")
    cfg = TrainConfig(
        model="tiny",
        head="crf",
        epochs=3,
        batch_size=8,
        learning_rate=2e-3,
        max_length=48,
        progress=False,
        num_threads=1,
        early_stopping_patience=None,
    )
    res = train_ner(toy_dataset(40), toy_dataset(10, seed=1), cfg, encoder=str(enc), output_dir=tmp_path / "m")
    assert res.model.decode == "crf" and (tmp_path / "m" / "xner_crf.json").is_file()
    h = res.history
    assert h["train_loss"].iloc[-1] < h["train_loss"].iloc[0]
    tokens = [list(t) for t in toy_dataset(10, seed=2)["tokens"]]
    pred = res.model.predict(tokens)
    assert all(not validate_iob2(p) for p in pred)
    again = NERModel.load(tmp_path / "m", num_threads=1)
    assert again.decode == "crf" and again.predict(tokens) == pred
    trans = again.crf.to_numpy()["trans"]
    o, i_per = WIKIANN.labels.index("O"), WIKIANN.labels.index("I-PER")
    assert trans[o, i_per] < -1e3  # O → I-PER stays forbidden
