"""Label sets, schemes and explicit mappings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xner.data import from_lists, map_labels, tag_names
from xner.labels import (
    CONLL,
    MASAKHANER,
    WIKIANN,
    LabelError,
    convert_scheme,
    get_label_set,
    repair_iob2,
    spans_from_tags,
    tags_from_spans,
    validate_iob2,
    validate_tags,
)


def test_canonical_orders():
    assert WIKIANN.labels == ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
    assert MASAKHANER.types == ("PER", "ORG", "LOC", "DATE")
    assert CONLL.types == ("PER", "ORG", "LOC", "MISC")
    assert get_label_set("conll") is CONLL
    with pytest.raises(LabelError, match="unknown label set"):
        get_label_set("ontonotes")


@pytest.mark.parametrize(
    "iob2, iob1, bioes",
    [
        (["B-PER", "I-PER", "B-PER", "O"], ["I-PER", "I-PER", "B-PER", "O"], ["B-PER", "E-PER", "S-PER", "O"]),
        (
            ["B-LOC", "B-ORG", "I-ORG", "I-ORG"],
            ["I-LOC", "I-ORG", "I-ORG", "I-ORG"],
            ["S-LOC", "B-ORG", "I-ORG", "E-ORG"],
        ),
        (["O", "O"], ["O", "O"], ["O", "O"]),
    ],
)
def test_scheme_table(iob2, iob1, bioes):
    assert convert_scheme(iob2, "IOB2", "IOB1") == iob1
    assert convert_scheme(iob2, "IOB2", "BIOES") == bioes
    assert convert_scheme(iob1, "IOB1", "IOB2") == iob2
    assert convert_scheme(bioes, "BIOES", "IOB2") == iob2


spans_strategy = st.lists(
    st.tuples(st.sampled_from(["PER", "ORG", "LOC"]), st.integers(1, 3), st.integers(0, 2)), max_size=5
)


@given(spans_strategy)
def test_scheme_roundtrip(items):
    spans, pos = [], 0
    for typ, length, gap in items:
        pos += gap
        spans.append((typ, pos, pos + length))
        pos += length
    n = pos + 1
    tags = tags_from_spans(spans, n, "IOB2")
    assert spans_from_tags(tags) == spans
    for scheme in ("IOB1", "BIOES"):
        assert convert_scheme(convert_scheme(tags, "IOB2", scheme), scheme, "IOB2") == tags
        assert validate_tags(convert_scheme(tags, "IOB2", scheme), scheme) == []  # what xner writes is valid
    assert validate_iob2(tags) == []


@pytest.mark.parametrize(
    "scheme, tags, positions",
    [
        ("BIOES", ["E-LOC"], [0]),
        ("BIOES", ["B-LOC", "O"], [1]),
        ("BIOES", ["S-LOC", "I-LOC"], [1, 1]),  # I- after S-, then the sentence ends inside the entity
        ("BIOES", ["B-LOC", "I-LOC", "E-LOC", "S-PER"], []),
        ("IOB1", ["O", "B-LOC"], [1]),
        ("IOB1", ["I-LOC", "B-LOC", "I-PER"], []),
        ("IOB2", ["O", "I-LOC"], [1]),
    ],
)
def test_validate_tags_per_scheme(scheme, tags, positions):
    """Issue 17 item 4: broken IOB1/BIOES sequences are found, not silently read leniently."""
    assert [p.position for p in validate_tags(tags, scheme)] == positions
    with pytest.raises(LabelError, match="unknown scheme"):
        validate_tags(tags, "BILOU")


def test_validate_and_repair():
    tags = ["I-PER", "O", "B-LOC", "I-ORG"]
    problems = validate_iob2(tags)
    assert [p.position for p in problems] == [0, 3]
    fixed, n = repair_iob2(tags)
    assert fixed == ["B-PER", "O", "B-LOC", "B-ORG"] and n == 2


def test_mapping_reported():
    ds = from_lists([["a", "b", "c", "d"]], [["B-PER", "B-MISC", "I-MISC", "B-LOC"]], lang="es", label_set=CONLL)
    mapped, report = map_labels(ds, WIKIANN, {"MISC": None})
    assert tag_names(mapped) == [["B-PER", "O", "O", "B-LOC"]]
    rows = {r["type"]: r for r in report.rows()}
    assert rows["MISC"]["dropped"] == 1 and rows["PER"]["kept"] == 1 and rows["MISC"]["mapped_to"] == "(dropped)"
    assert "MISC→(dropped)" in str(report)


def test_mapping_to_other_type():
    ds = from_lists([["a", "b"]], [["B-MISC", "I-MISC"]], lang="es", label_set=CONLL)
    mapped, report = map_labels(ds, WIKIANN, {"MISC": "ORG"})
    assert tag_names(mapped) == [["B-ORG", "I-ORG"]] and report.mapped["MISC"] == 1


def test_unknown_type_never_silently_o():
    ds = from_lists([["a"]], [["B-DATE"]], lang="yo", label_set=MASAKHANER)
    with pytest.raises(LabelError, match="'DATE' of masakhaner has no counterpart in wikiann"):
        map_labels(ds, WIKIANN)
    with pytest.raises(LabelError, match="not a type of wikiann"):
        map_labels(ds, WIKIANN, {"DATE": "TIME"})
