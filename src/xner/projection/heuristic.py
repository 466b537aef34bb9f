"""Word-alignment heuristic projection, as in Politov et al. (2025)'s code, and García-Ferrero et al.'s rules.

:func:`project_sentence` (method ``"heuristic"``) follows Politov et al.'s implementation
(``match_entities_based_on_word_alignments``); for each source entity:

1. collect the target words aligned to any word of the entity;
2. grow contiguous ranges: a word joins a range when it is inside it or adjacent to it, so the ranges are
   the maximal runs of consecutive aligned target positions;
3. merge two ranges when the number of unaligned words between them is at most ``merge_distance`` (1);
4. keep a range only when ``range length / source entity length > length_ratio_threshold`` (0.8, strict);
5. label every kept range ``B-type I-type ...``.

An entity with no aligned word, or whose ranges are all too short, is dropped and counted. Several kept
ranges label several target spans (outcome ``"split"``). When two entities claim overlapping target
words, the earlier source entity keeps them and the later one loses that range (counted as ``"overlap"``).

These are *not* the rules of García-Ferrero et al. (2022), which this module used to be attributed to: they
remove alignment links of punctuation tokens, keep only the largest group of aligned words of an entity (no
split entities) and apply no length-ratio filter. :func:`project_sentence_gf` (method ``"heuristic-gf"``)
follows those three rules; for overlapping entities it keeps this module's rule (earlier entity wins) rather
than theirs, and it merges groups with ``merge_distance`` as above (their groups are consecutive runs:
``merge_distance=0``, the default there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from xner.projection.spans import Entity, SentenceProjection, Span, entities_from_tags, resolve_overlaps

Alignment = Iterable[tuple[int, int]]


def aligned_ranges(positions: Iterable[int]) -> list[Span]:
    """Group target positions into maximal runs of consecutive positions (grown ranges), sorted."""
    ranges: list[list[int]] = []
    for p in sorted(set(positions)):
        if ranges and p == ranges[-1][1]:
            ranges[-1][1] = p + 1
        else:
            ranges.append([p, p + 1])
    return [(s, e) for s, e in ranges]


def merge_ranges(ranges: Sequence[Span], merge_distance: int = 1) -> list[Span]:
    """Merge sorted ranges separated by at most ``merge_distance`` unaligned words."""
    if merge_distance < 0:
        raise ValueError(f"merge_distance must be >= 0, got {merge_distance}")
    merged: list[list[int]] = []
    for s, e in sorted(ranges):
        if merged and s - merged[-1][1] <= merge_distance:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def project_entity(
    entity: Entity,
    alignment: Alignment,
    *,
    merge_distance: int = 1,
    length_ratio_threshold: float = 0.8,
) -> tuple[list[Entity], str]:
    """Project one source entity through an alignment; return ``(target entities, drop reason)``.

    The reason is empty when at least one range is kept, ``"unaligned"`` when no word of the entity is
    aligned, and ``"too short"`` when every range fails the length-ratio rule.
    """
    targets = [j for i, j in alignment if entity.start <= i < entity.end]
    if not targets:
        return [], "unaligned"
    ranges = merge_ranges(aligned_ranges(targets), merge_distance)
    kept = [(s, e) for s, e in ranges if (e - s) / len(entity) > length_ratio_threshold]
    if not kept:
        return [], "too short"
    return [Entity(entity.type, s, e) for s, e in kept], ""


def project_sentence(
    source_tags: Sequence[str],
    n_target: int,
    alignment: Alignment,
    *,
    sentence: int = 0,
    merge_distance: int = 1,
    length_ratio_threshold: float = 0.8,
) -> SentenceProjection:
    """Project the IOB2 tags of one source sentence onto a target sentence of ``n_target`` words.

    ``alignment`` holds ``(source index, target index)`` pairs (0-based). Raises ``ValueError`` when a pair
    points outside either sentence.
    """
    links = list(alignment)
    n_source = len(source_tags)
    for i, j in links:
        if not (0 <= i < n_source and 0 <= j < n_target):
            raise ValueError(
                f"sentence {sentence}: alignment pair ({i}, {j}) outside a {n_source}-word source / "
                f"{n_target}-word target"
            )
    proposals = []
    for ent in entities_from_tags(source_tags):
        targets, reason = project_entity(
            ent, links, merge_distance=merge_distance, length_ratio_threshold=length_ratio_threshold
        )
        proposals.append((ent, targets, reason))
    return resolve_overlaps(sentence, proposals, n_target)


def _is_punctuation(token: str) -> bool:
    import unicodedata

    return bool(token) and all(unicodedata.category(c)[0] in "PS" for c in token)


def project_sentence_gf(
    source_tokens: Sequence[str],
    source_tags: Sequence[str],
    target_tokens: Sequence[str],
    alignment: Alignment,
    *,
    sentence: int = 0,
    merge_distance: int = 0,
) -> SentenceProjection:
    """García-Ferrero et al. (2022)'s rules: links touching a punctuation token (every character Unicode ``P*``
    or ``S*``) on either side are removed, each entity keeps only its largest group of aligned target words
    (ties: the leftmost), and there is no length-ratio filter. Overlaps: the earlier source entity wins."""
    links = [
        (i, j) for i, j in alignment if not (_is_punctuation(source_tokens[i]) or _is_punctuation(target_tokens[j]))
    ]
    n_target = len(target_tokens)
    proposals = []
    for ent in entities_from_tags(source_tags):
        targets = [j for i, j in links if ent.start <= i < ent.end]
        if not targets:
            proposals.append((ent, [], "unaligned"))
            continue
        ranges = merge_ranges(aligned_ranges(targets), merge_distance)
        s, e = max(ranges, key=lambda r: (r[1] - r[0], -r[0]))
        proposals.append((ent, [Entity(ent.type, s, e)], ""))
    return resolve_overlaps(sentence, proposals, n_target)
