"""xner's IterMax and distortion equal the ``simalign`` package's own (Jalili Sabet et al. 2020) on fixed matrices."""

from __future__ import annotations

import numpy as np
import pytest

from xner.projection.align import apply_distortion, itermax_alignment

simalign = pytest.importorskip("simalign", reason="the simalign package (test extra) pins SimAlign's IterMax")
SentenceAligner = simalign.SentenceAligner


def _cosine(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    a, b = rng.normal(size=(m, 16)), rng.normal(size=(n, 16))
    # correlated rows so that the matrices look like alignment problems, not noise
    b[: min(m, n)] += 1.5 * a[: min(m, n)][rng.permutation(min(m, n))]
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


@pytest.mark.parametrize("distortion", [0.0, 0.5])
def test_itermax_equals_simalign_on_random_matrices(distortion):
    rng = np.random.default_rng(0)
    differing = 0
    for _ in range(300):
        m, n = int(rng.integers(1, 25)), int(rng.integers(1, 25))
        sim = (_cosine(rng, m, n) + 1.0) / 2.0  # SimAlign's get_similarity
        theirs_sim = SentenceAligner.apply_distortion(sim, distortion)
        ours_sim = apply_distortion(sim, distortion)
        np.testing.assert_allclose(ours_sim, theirs_sim)
        theirs = SentenceAligner.iter_max(theirs_sim) > 0
        ours = itermax_alignment(ours_sim)
        differing += not np.array_equal(ours, theirs)
    assert differing == 0


def test_itermax_refuses_raw_cosine_with_negative_entries():
    sim = np.array([[0.5, -0.2, 0.1], [-0.1, 0.4, 0.0], [0.2, 0.1, -0.3]])
    with pytest.raises(ValueError, match=r"\(cos \+ 1\) / 2"):
        itermax_alignment(sim)


def test_rescaling_changes_itermax_where_the_old_shift_did():
    """The old extraction (``sim - min + 1e-6`` inside IterMax) and SimAlign's ``(cos + 1) / 2`` differ on a
    hand-checked matrix: with the shift a damped pair outranks a free one that SimAlign's scale prefers."""
    cos = np.array(
        [
            [0.90, -0.50, -0.50],
            [-0.50, -0.50, 0.20],
            [0.85, 0.69, -0.48],
        ]
    )
    simalign_scale = (cos + 1.0) / 2.0
    old_shift = cos - cos.min() + 1e-6
    ours = {tuple(p) for p in np.argwhere(itermax_alignment(simalign_scale))}
    assert ours == {tuple(p) for p in np.argwhere(SentenceAligner.iter_max(simalign_scale) > 0)}
    old = {tuple(p) for p in np.argwhere(itermax_alignment(old_shift))}
    # Round 1 (argmax) is the same for both: {(0,0), (1,2)}. Round 2, row 2 is free: the pair (2,1) has both
    # words free (weight 1), (2,0) has column 0 aligned (weight 0.9). SimAlign's scale: 0.9 * 1.85/2 = 0.8325
    # < 1.69/2 = 0.845 → (2,1). Old shift (min -0.5): 0.9 * 1.35 = 1.215 > 1.19 → (2,0).
    assert ours == {(0, 0), (1, 2), (2, 1)}
    assert old == {(0, 0), (1, 2), (2, 0)}


def test_bpe_links_map_pieces_to_words(monkeypatch):
    from xner.projection.align import EmbeddingAligner

    aligner = EmbeddingAligner(model="unused", token_type="bpe", cache=False)
    e = np.eye(4)
    pieces = {
        ("Kathmandu", "is"): (np.stack([e[0], e[1], e[2]]), np.array([0, 0, 1])),  # "Kathmandu" = 2 pieces
        ("Katmandú", "es"): (np.stack([e[0], e[3], e[2]]), np.array([0, 1, 1])),  # "es" = 2 pieces (toy)
    }
    monkeypatch.setattr(aligner, "embed_pieces", lambda sents: [pieces[tuple(s)] for s in sents])
    (links,) = aligner.align([["Kathmandu", "is"]], [["Katmandú", "es"]])
    # round 1: piece 0↔0 (Kathmandu↔Katmandú), piece 2↔2 (is↔es); round 2 links the two free pieces 1↔1
    # (0.5 undamped beats 0.45 damped): source piece 1 is in word 0, target piece 1 in word 1
    assert links == frozenset({(0, 0), (1, 1), (0, 1)})
    assert aligner.name.endswith(":bpe")
