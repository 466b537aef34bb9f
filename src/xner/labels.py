"""Label sets, tagging schemes (IOB1, IOB2, BIOES) and explicit label mappings between datasets.

Canonical label orders follow the Hugging Face datasets: WikiANN/PAN-X ``O B-PER I-PER B-ORG I-ORG B-LOC I-LOC``;
MasakhaNER adds ``B-DATE I-DATE``; CoNLL adds ``B-MISC I-MISC``. A mapping between label sets is always
explicit and reported: how many entities of each type were kept, mapped to another type, or dropped. A type
the mapping does not mention is an error, never silently ``O``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datasets

SCHEMES = ("IOB1", "IOB2", "BIOES")


class LabelError(ValueError):
    """A tag or label set does not fit what was expected."""


@dataclass(frozen=True)
class LabelSet:
    """An ordered set of IOB2 labels: ``O`` then ``B-``/``I-`` for each entity type."""

    name: str
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.labels or self.labels[0] != "O":
            raise LabelError(f"label set {self.name!r}: the first label must be 'O', got {self.labels[:1]}")
        for lab in self.labels[1:]:
            if lab[:2] not in ("B-", "I-") or len(lab) < 3:
                raise LabelError(f"label set {self.name!r}: {lab!r} is not an IOB2 label (B-TYPE or I-TYPE)")

    @property
    def types(self) -> tuple[str, ...]:
        """Entity types in label order, e.g. ``("PER", "ORG", "LOC")``."""
        seen: dict[str, None] = {}
        for lab in self.labels[1:]:
            seen.setdefault(lab[2:], None)
        return tuple(seen)

    def index(self, label: str) -> int:
        """Return the integer id of ``label``; an unknown label raises :class:`LabelError`."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise LabelError(f"label {label!r} is not in label set {self.name!r} ({' '.join(self.labels)})") from None

    def class_label(self) -> datasets.ClassLabel:
        """Return the ``datasets.ClassLabel`` feature with these names in this order."""
        import datasets

        return datasets.ClassLabel(names=list(self.labels))

    @classmethod
    def from_types(cls, types: Iterable[str], name: str = "custom") -> LabelSet:
        """Build a label set from entity types (``O`` first, then ``B-``/``I-`` per type in the given order)."""
        labels = ["O"]
        for t in types:
            labels += [f"B-{t}", f"I-{t}"]
        return cls(name=name, labels=tuple(labels))


WIKIANN = LabelSet("wikiann", ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"))
MASAKHANER = LabelSet("masakhaner", WIKIANN.labels + ("B-DATE", "I-DATE"))
CONLL = LabelSet("conll", WIKIANN.labels + ("B-MISC", "I-MISC"))
LABEL_SETS: dict[str, LabelSet] = {ls.name: ls for ls in (WIKIANN, MASAKHANER, CONLL)}


def get_label_set(name: str | LabelSet) -> LabelSet:
    """Return a registered label set by name (``wikiann``, ``masakhaner``, ``conll``) or pass one through."""
    if isinstance(name, LabelSet):
        return name
    if name not in LABEL_SETS:
        raise LabelError(f"unknown label set {name!r}; known: {', '.join(LABEL_SETS)}")
    return LABEL_SETS[name]


def infer_label_set(types: Iterable[str]) -> LabelSet:
    """Return the smallest registered label set covering ``types``, else a custom set of the sorted types."""
    wanted = set(types)
    for ls in (WIKIANN, MASAKHANER, CONLL):
        if wanted <= set(ls.types):
            return ls
    return LabelSet.from_types(sorted(wanted))


# ---------------------------------------------------------------------------------------------- schemes


def _split(tag: str, scheme: str) -> tuple[str, str | None]:
    """Split a tag into (prefix, type); ``O`` gives ("O", None)."""
    if tag == "O":
        return "O", None
    prefixes = {"IOB1": "BI", "IOB2": "BI", "BIOES": "BIES"}[scheme]
    if len(tag) < 3 or tag[1] != "-" or tag[0] not in prefixes:
        raise LabelError(f"tag {tag!r} is not a valid {scheme} tag (expected O or one of {'/'.join(prefixes)}-TYPE)")
    return tag[0], tag[2:]


def spans_from_tags(tags: Sequence[str], scheme: str = "IOB2") -> list[tuple[str, int, int]]:
    """Read entity spans ``(type, start, end_exclusive)`` from tags in any scheme, leniently.

    Lenient means the conlleval reading: an ``I-`` that does not continue an entity of its type starts one.
    For the strict IOB2 reading used by the headline metric see :func:`xner.metrics.get_entities`.
    """
    if scheme not in SCHEMES:
        raise LabelError(f"unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    spans: list[tuple[str, int, int]] = []
    cur: list = []  # [type, start]
    for i, tag in enumerate(tags):
        prefix, typ = _split(tag, scheme)
        if prefix == "O":
            if cur:
                spans.append((cur[0], cur[1], i))
                cur = []
            continue
        starts = prefix in ("B", "S") or not cur or cur[0] != typ
        if starts:
            if cur:
                spans.append((cur[0], cur[1], i))
            cur = [typ, i]
        if prefix in ("E", "S"):
            spans.append((cur[0], cur[1], i + 1))
            cur = []
    if cur:
        spans.append((cur[0], cur[1], len(tags)))
    return spans


def tags_from_spans(spans: Iterable[tuple[str, int, int]], length: int, scheme: str = "IOB2") -> list[str]:
    """Write non-overlapping spans ``(type, start, end_exclusive)`` as tags of ``length`` tokens in ``scheme``."""
    if scheme not in SCHEMES:
        raise LabelError(f"unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    tags = ["O"] * length
    prev_end, prev_type = -1, None
    for typ, start, end in sorted(spans, key=lambda s: s[1]):
        if not (0 <= start < end <= length):
            raise LabelError(f"span {(typ, start, end)} does not fit a sentence of {length} tokens")
        if start < prev_end:
            raise LabelError(f"span {(typ, start, end)} overlaps the span before it")
        for i in range(start, end):
            tags[i] = f"I-{typ}"
        if scheme == "IOB2":
            tags[start] = f"B-{typ}"
        elif scheme == "BIOES":
            if end - start == 1:
                tags[start] = f"S-{typ}"
            else:
                tags[start], tags[end - 1] = f"B-{typ}", f"E-{typ}"
        elif prev_end == start and prev_type == typ:  # IOB1 marks B- only between adjacent same-type spans
            tags[start] = f"B-{typ}"
        prev_end, prev_type = end, typ
    return tags


def convert_scheme(tags: Sequence[str], src: str, dst: str) -> list[str]:
    """Convert one sentence's tags between IOB1, IOB2 and BIOES."""
    return tags_from_spans(spans_from_tags(tags, src), len(tags), dst)


@dataclass(frozen=True)
class IOBProblem:
    """One position where a tag sequence is not valid strict IOB2."""

    position: int
    tag: str
    message: str


def validate_iob2(tags: Sequence[str]) -> list[IOBProblem]:
    """Return every position where ``tags`` break strict IOB2 (an ``I-X`` not after ``B-X``/``I-X``, bad tags)."""
    problems: list[IOBProblem] = []
    prev = "O"
    for i, tag in enumerate(tags):
        try:
            prefix, typ = _split(tag, "IOB2")
        except LabelError as exc:
            problems.append(IOBProblem(i, tag, str(exc)))
            prev = "O"
            continue
        if prefix == "I" and (prev == "O" or prev[2:] != typ):
            problems.append(IOBProblem(i, tag, f"{tag} follows {prev}; expected B-{typ} or I-{typ} before it"))
        prev = tag
    return problems


def _validate_iob1(tags: Sequence[str]) -> list[IOBProblem]:
    """IOB1 problems: a ``B-X`` may only separate two adjacent ``X`` entities (it must follow ``B-X``/``I-X``)."""
    problems: list[IOBProblem] = []
    prev = "O"
    for i, tag in enumerate(tags):
        prefix, typ = _split(tag, "IOB1")
        if prefix == "B" and (prev == "O" or prev[2:] != typ):
            problems.append(
                IOBProblem(
                    i,
                    tag,
                    f"{tag} follows {prev}; in IOB1 a B- tag only separates two adjacent {typ} entities "
                    "(is the file IOB2? then pass scheme='IOB2')",
                )
            )
        prev = tag
    return problems


def _validate_bioes(tags: Sequence[str]) -> list[IOBProblem]:
    """BIOES problems: ``B-X`` must be closed by ``E-X`` through ``I-X`` only; ``I-``/``E-`` need an open ``X``."""
    problems: list[IOBProblem] = []
    open_type: str | None = None  # type of the entity opened by B-/I- and not yet closed by E-
    prev = "O"
    for i, tag in enumerate(tags):
        prefix, typ = _split(tag, "BIOES")
        if prefix in ("I", "E"):
            if open_type != typ:
                problems.append(IOBProblem(i, tag, f"{tag} follows {prev}; expected B-{typ} or I-{typ} before it"))
        elif open_type is not None:
            problems.append(
                IOBProblem(i, tag, f"{tag} follows {prev}; expected I-{open_type} or E-{open_type} to continue it")
            )
        open_type = typ if prefix in ("B", "I") else None
        prev = tag
    if open_type is not None:
        msg = f"the sentence ends inside an entity: {prev} is not closed by E-{open_type}"
        problems.append(IOBProblem(len(tags) - 1, prev, msg))
    return problems


def validate_tags(tags: Sequence[str], scheme: str = "IOB2") -> list[IOBProblem]:
    """Return every position where ``tags`` break ``scheme`` (IOB1, IOB2 or BIOES), read strictly.

    Malformed tags (not ``O`` or ``<prefix>-TYPE``) raise :class:`LabelError`. A sequence with problems can still
    be read leniently (:func:`spans_from_tags`, the conlleval reading) — that is what ``repair`` does.
    """
    if scheme == "IOB2":
        return validate_iob2(tags)
    if scheme == "IOB1":
        return _validate_iob1(tags)
    if scheme == "BIOES":
        return _validate_bioes(tags)
    raise LabelError(f"unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")


def repair_iob2(tags: Sequence[str]) -> tuple[list[str], int]:
    """Turn every ``I-X`` that does not continue an ``X`` entity into ``B-X``; return the tags and the count."""
    out = list(tags)
    n = 0
    for p in validate_iob2(tags):
        if p.tag.startswith("I-"):
            out[p.position] = "B-" + p.tag[2:]
            n += 1
        else:
            raise LabelError(p.message)
    return out, n


# ---------------------------------------------------------------------------------------------- mappings


@dataclass
class MappingReport:
    """What an explicit label mapping did, per source entity type."""

    source: str
    target: str
    type_map: dict[str, str | None]
    kept: Counter = field(default_factory=Counter)
    mapped: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)

    def rows(self) -> list[dict[str, object]]:
        """One row per source type: ``type, mapped_to, kept, mapped, dropped``."""
        return [
            {
                "type": t,
                "mapped_to": self.type_map.get(t) or "(dropped)",
                "kept": self.kept[t],
                "mapped": self.mapped[t],
                "dropped": self.dropped[t],
            }
            for t in self.type_map
        ]

    def __str__(self) -> str:
        parts = []
        for r in self.rows():
            parts.append(
                f"{r['type']}→{r['mapped_to']}: kept {r['kept']}, mapped {r['mapped']}, dropped {r['dropped']}"
            )
        return f"label mapping {self.source} → {self.target}: " + "; ".join(parts)


def resolve_type_map(
    source: LabelSet, target: LabelSet, type_map: dict[str, str | None] | None = None
) -> dict[str, str | None]:
    """Complete an explicit type map: identity for shared types, the given entries for the rest.

    A source type that the target lacks and the map does not mention is an error that names it; a map value
    that is not a target type is an error too. ``None`` as a value means "drop this type" (its tokens become O).
    """
    given = dict(type_map or {})
    out: dict[str, str | None] = {}
    for t in source.types:
        if t in given:
            dst = given.pop(t)
            if dst is not None and dst not in target.types:
                raise LabelError(
                    f"mapping {t}→{dst}: {dst!r} is not a type of {target.name} ({', '.join(target.types)})"
                )
            out[t] = dst
        elif t in target.types:
            out[t] = t
        else:
            raise LabelError(
                f"type {t!r} of {source.name} has no counterpart in {target.name} ({', '.join(target.types)}); "
                f"say explicitly what it becomes, e.g. type_map={{{t!r}: None}} to drop it"
            )
    if given:
        raise LabelError(
            f"mapping names types {sorted(given)} that {source.name} does not have ({', '.join(source.types)})"
        )
    return out


def map_tags(tags: Sequence[str], type_map: dict[str, str | None], report: MappingReport | None = None) -> list[str]:
    """Apply a complete type map (see :func:`resolve_type_map`) to one IOB2 sentence, counting into ``report``."""
    out = list(tags)
    for typ, start, end in spans_from_tags(tags, "IOB2"):
        if typ not in type_map:
            raise LabelError(f"type {typ!r} is not covered by the mapping {type_map}")
        dst = type_map[typ]
        if report is not None:
            if dst is None:
                report.dropped[typ] += 1
            elif dst == typ:
                report.kept[typ] += 1
            else:
                report.mapped[typ] += 1
        for i in range(start, end):
            out[i] = "O" if dst is None else ("B-" if i == start else "I-") + dst
    return out
