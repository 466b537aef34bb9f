"""A linear-chain CRF output layer over a token classifier's per-word logits (the "BERT-CRF" head).

The encoder stays a standard ``AutoModelForTokenClassification`` checkpoint: its logits at each word's first
sub-word are the CRF's emission scores. Only the transition scores (``start``, ``end``, ``trans[i, j]``) are new;
they are trained jointly with the encoder (negative log-likelihood of the gold word-label sequence) and saved
beside the checkpoint as ``xner_crf.json``. Transitions that strict IOB2 forbids (``O → I-X``, ``B-X → I-Y``, a
sentence starting with ``I-X``) are fixed at a large negative score, so decoding always yields valid IOB2.

Written here rather than taken from a package (``pytorch-crf``, ``torchcrf``) because it is ~60 lines, those
packages are unmaintained, and we need the IOB2 constraint mask and a NumPy decoder for the stitched
per-word logits of windowed sentences (:func:`xner.modeling.decode.viterbi`, shared with constrained decoding).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from xner.modeling.decode import allowed_transitions

FILE = "xner_crf.json"
FORBIDDEN = -1e4


class CRFHead(torch.nn.Module):
    """Transition scores of a linear-chain CRF with strict-IOB2 constraints."""

    def __init__(self, labels: Sequence[str]) -> None:
        super().__init__()
        n = len(labels)
        self.labels = tuple(labels)
        self.start = torch.nn.Parameter(torch.zeros(n))
        self.end = torch.nn.Parameter(torch.zeros(n))
        self.trans = torch.nn.Parameter(torch.zeros(n, n))
        start_ok, trans_ok = allowed_transitions(labels)
        self.register_buffer("start_mask", torch.where(torch.from_numpy(start_ok), 0.0, FORBIDDEN).float())
        self.register_buffer("trans_mask", torch.where(torch.from_numpy(trans_ok), 0.0, FORBIDDEN).float())

    def scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Start, end and transition scores with the IOB2 constraints applied."""
        return self.start + self.start_mask, self.end, self.trans + self.trans_mask

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Summed negative log-likelihood of ``tags`` (``[B, T]``) under ``emissions`` (``[B, T, L]``).

        ``mask`` (``[B, T]`` bool) marks real words; every sequence must have its words first (left-aligned) and
        at least one word."""
        start, end, trans = self.scores()
        b_idx = torch.arange(emissions.shape[0])
        lengths = mask.sum(dim=1)
        # score of the gold path
        gold = start[tags[:, 0]] + emissions[b_idx, 0, tags[:, 0]]
        for t in range(1, emissions.shape[1]):
            step = trans[tags[:, t - 1], tags[:, t]] + emissions[b_idx, t, tags[:, t]]
            gold = gold + step * mask[:, t]
        last = tags[b_idx, lengths - 1]
        gold = gold + end[last]
        # log partition function (forward algorithm)
        alpha = start + emissions[:, 0]
        for t in range(1, emissions.shape[1]):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans.unsqueeze(0), dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t : t + 1], nxt, alpha)
        log_z = torch.logsumexp(alpha + end, dim=1)
        return (log_z - gold).sum()

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Constrained scores as NumPy arrays (for decoding)."""
        start, end, trans = (x.detach().cpu().numpy().astype(np.float64) for x in self.scores())
        return {"start": start, "end": end, "trans": trans}

    def save(self, folder: str | Path) -> Path:
        """Write the learned (unconstrained) scores and the labels to ``<folder>/xner_crf.json``."""
        path = Path(folder) / FILE
        data = {
            "labels": list(self.labels),
            "start": self.start.detach().tolist(),
            "end": self.end.detach().tolist(),
            "trans": self.trans.detach().tolist(),
        }
        path.write_text(json.dumps(data) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> CRFHead:
        """Read a head written by :meth:`save`."""
        data = json.loads((Path(folder) / FILE).read_text(encoding="utf-8"))
        head = cls(data["labels"])
        with torch.no_grad():
            head.start.copy_(torch.tensor(data["start"]))
            head.end.copy_(torch.tensor(data["end"]))
            head.trans.copy_(torch.tensor(data["trans"]))
        return head


def word_emissions(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gather the logits at labelled positions (first sub-words of owned words), left-aligned per sequence.

    Returns ``emissions [B, T, L]``, ``tags [B, T]`` and ``mask [B, T]`` where ``T`` is the most words in a row."""
    keep = labels != -100
    counts = keep.sum(dim=1)
    width = max(1, int(counts.max()))
    b, _, n_lab = logits.shape
    em = logits.new_zeros((b, width, n_lab))
    tags = torch.zeros((b, width), dtype=torch.long)
    mask = torch.zeros((b, width), dtype=torch.bool)
    for i in range(b):
        pos = keep[i].nonzero(as_tuple=True)[0]
        k = len(pos)
        em[i, :k] = logits[i, pos]
        tags[i, :k] = labels[i, pos]
        mask[i, :k] = True
    return em, tags, mask


__all__ = ["CRFHead", "FILE", "word_emissions"]
