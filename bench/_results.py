"""Shared by the benchmark scripts: write one section of ``bench/RESULTS.md``, keeping the others."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def write_section(text: str, path: Path = RESULTS) -> Path:
    """Replace the section whose ``## `` heading is the first line of ``text`` (or append it), atomically."""
    heading = text.lstrip("\n").splitlines()[0].strip()
    if not heading.startswith("## "):
        raise ValueError(f"a section must start with a '## ' heading, got {heading!r}")
    old = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmark results\n"
    lines = old.rstrip("\n").splitlines()
    new = text.strip("\n").splitlines() + [""]
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    if start is None:
        lines = [*lines, "", *new]
    else:
        end = next((j for j in range(start + 1, len(lines)) if lines[j].startswith("## ")), len(lines))
        lines = [*lines[:start], *new, *lines[end:]]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
