"""The García-Ferrero et al. (2022) rules variant of the word-alignment heuristic, beside Politov et al.'s."""

from __future__ import annotations

from xner.projection.heuristic import project_sentence, project_sentence_gf
from xner.projection.project import ProjectionConfig, project_corpus

SRC = ["the", "Bank", "of", "Spain", ",", "says", "Ana"]
TAGS = ["O", "B-ORG", "I-ORG", "I-ORG", "O", "O", "B-PER"]
TGT = ["el", "Banco", "dice", ",", "de", "España", "Ana"]
# Bank→Banco, of→de, Spain→España (two groups 1 and 4-5 around "dice ,"), ","→"," and Ana→Ana
LINKS = {(0, 0), (1, 1), (2, 4), (3, 5), (4, 3), (5, 2), (6, 6)}


def test_gf_keeps_largest_group_without_length_ratio():
    gf = project_sentence_gf(SRC, TAGS, TGT, LINKS)
    # groups of ORG: {1} and {4, 5}: the largest is kept, no length-ratio test (2/3 would fail > 0.8)
    assert gf.tags == ["O", "O", "O", "O", "B-ORG", "I-ORG", "B-PER"]
    politov = project_sentence(TAGS, len(TGT), LINKS)
    # Politov: both ranges fail 1/3 and 2/3 > 0.8 → ORG dropped as too short
    assert politov.tags == ["O", "O", "O", "O", "O", "O", "B-PER"]


def test_gf_removes_punctuation_links():
    # a link from "Ana" to "," would extend nothing under GF: punctuation links are dropped first
    links = {(6, 6), (6, 3), (1, 1), (2, 4), (3, 5)}
    assert project_sentence_gf(SRC, TAGS, TGT, links).tags[3] == "O"
    assert project_sentence(TAGS, len(TGT), links, merge_distance=0).tags[3] == "B-PER"


def test_gf_is_a_method():
    res = project_corpus([SRC], [TAGS], [TGT], ProjectionConfig(method="heuristic-gf"), alignments=[LINKS])
    assert res.tags == [["O", "O", "O", "O", "B-ORG", "I-ORG", "B-PER"]]
