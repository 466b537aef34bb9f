"""The alignment heuristic against hand-worked examples (range growing, merge_distance, length ratio)."""

from __future__ import annotations

import pytest

from xner.projection.heuristic import aligned_ranges, merge_ranges, project_entity, project_sentence
from xner.projection.spans import Entity, ProjectionReport, tags_from_entities


def test_ranges_grow_from_adjacent_positions():
    assert aligned_ranges([5, 1, 2, 7, 6]) == [(1, 3), (5, 8)]
    assert aligned_ranges([3, 3]) == [(3, 4)]


@pytest.mark.parametrize(
    ("ranges", "distance", "expected"),
    [
        ([(0, 2), (3, 4)], 1, [(0, 4)]),  # one unaligned word between: merged
        ([(0, 2), (4, 5)], 1, [(0, 2), (4, 5)]),  # two between: kept apart
        ([(0, 2), (4, 5)], 2, [(0, 5)]),
        ([(0, 2), (3, 4)], 0, [(0, 2), (3, 4)]),
    ],
)
def test_merge_ranges(ranges, distance, expected):
    assert merge_ranges(ranges, distance) == expected


def test_contiguous_reordered_entity():
    # the European Parliament met  ->  el Parlamento Europeo se reunió
    src = ["O", "B-ORG", "I-ORG", "O"]
    links = {(0, 0), (1, 2), (2, 1), (3, 3), (3, 4)}
    res = project_sentence(src, 5, links)
    assert res.tags == ["O", "B-ORG", "I-ORG", "O", "O"]
    assert [o.status for o in res.outcomes] == ["projected"]


def test_gap_of_one_word_is_filled():
    # 3-word entity aligned to target words 0, 1, 3: ranges (0,2) and (3,4), one word apart -> (0,4)
    res = project_sentence(["B-ORG", "I-ORG", "I-ORG"], 5, {(0, 0), (1, 1), (2, 3)})
    assert res.tags == ["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O"]


def test_gap_of_two_words_leaves_short_ranges_dropped():
    # 2-word entity aligned to targets 0 and 3: two ranges of length 1, ratio 1/2 <= 0.8 -> dropped
    res = project_sentence(["B-PER", "I-PER"], 5, {(0, 0), (1, 3)})
    assert res.tags == ["O"] * 5
    assert res.outcomes[0].status == "dropped" and res.outcomes[0].reason == "too short"
    # with merge_distance=2 the two ranges merge into (0, 4): ratio 4/2 > 0.8
    res2 = project_sentence(["B-PER", "I-PER"], 5, {(0, 0), (1, 3)}, merge_distance=2)
    assert res2.tags == ["B-PER", "I-PER", "I-PER", "I-PER", "O"]


def test_length_ratio_threshold_is_strict():
    ent = Entity("MISC", 0, 5)
    four = {(i, i) for i in range(4)}  # 4 aligned target words for 5 source words: ratio 0.8, not > 0.8
    assert project_entity(ent, four) == ([], "too short")
    kept, reason = project_entity(ent, four, length_ratio_threshold=0.79)
    assert kept == [Entity("MISC", 0, 4)] and reason == ""


def test_split_entity_labels_every_kept_range():
    # one-word entity aligned to two target words three apart: both ranges kept (ratio 1)
    res = project_sentence(["B-LOC", "O"], 5, {(0, 0), (0, 3)})
    assert res.tags == ["B-LOC", "O", "O", "B-LOC", "O"]
    assert res.outcomes[0].status == "split" and len(res.outcomes[0].targets) == 2


def test_unaligned_entity_is_counted_not_lost():
    res = project_sentence(["B-PER", "O", "B-LOC"], 3, {(1, 1), (2, 2)})
    assert res.tags == ["O", "O", "B-LOC"]
    report = ProjectionReport.from_outcomes(res.outcomes, 1)
    assert (report.n_source_entities, report.projected, report.dropped) == (2, 1, 1)
    assert report.dropped_reasons == {"unaligned": 1}
    assert report.per_type["PER"]["dropped"] == 1


def test_overlapping_projections_keep_the_earlier_entity():
    res = project_sentence(["B-PER", "B-LOC"], 2, {(0, 0), (1, 0)})
    assert res.tags == ["B-PER", "O"]
    assert [o.reason for o in res.outcomes] == ["", "overlap"]


def test_alignment_outside_sentence_raises():
    with pytest.raises(ValueError, match="outside"):
        project_sentence(["B-PER"], 2, {(0, 5)})


def test_tags_from_entities_refuses_overlaps():
    with pytest.raises(ValueError, match="overlaps"):
        tags_from_entities([Entity("PER", 0, 2), Entity("LOC", 1, 3)], 4)
