"""Run signatures, as sacrebleu has them: every results table says what produced it.

A signature records the data (dataset and split), languages, model, seed and metric mode that the caller gives,
plus the versions of the packages that shape the numbers and the git commit of the compendium. Tables are
written as CSV with a ``signature`` column (the compact form) and a ``<table>.signature.json`` sidecar (the full
form). No timestamps: the same run writes the same bytes.
"""

from __future__ import annotations

import functools
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from xner import __version__
from xner.config import repo_root

_PACKAGES = ("torch", "transformers", "datasets", "tokenizers", "numpy", "scipy", "sklearn-crfsuite", "peft")
_ORDER = ("data", "split", "languages", "model", "seed", "mode", "stage")


@functools.cache
def git_commit() -> str:
    """The compendium's git commit (``+dirty`` when the work tree has changes), or ``unknown`` outside git."""
    try:
        root = repo_root()
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@functools.cache
def versions() -> dict[str, str]:
    """Versions of Python, xner and the packages that shape results (absent ones are left out)."""
    out = {"python": platform.python_version(), "xner": __version__}
    for pkg in _PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def signature(**fields: Any) -> dict[str, Any]:
    """Build a run signature from the caller's fields (data, split, languages, model, seed, mode, …).

    Values that are lists are kept as lists; ``versions`` and ``commit`` are added.
    """
    sig = {k: fields.pop(k) for k in _ORDER if k in fields}
    sig.update(sorted(fields.items()))
    sig["versions"] = versions()
    sig["commit"] = git_commit()
    return sig


def compact(sig: dict[str, Any]) -> str:
    """The one-line form of a signature, e.g. ``data:wikiann|split:test|languages:id,ms|…|commit:abc``."""
    parts = []
    for k, v in sig.items():
        if k == "versions":
            parts += [f"{name}:{ver}" for name, ver in v.items()]
        else:
            parts.append(f"{k}:{','.join(map(str, v)) if isinstance(v, (list, tuple)) else v}")
    return "|".join(parts)


def write_table(df: pd.DataFrame, path: str | Path, sig: dict[str, Any]) -> Path:
    """Write ``df`` as CSV with a ``signature`` column, plus ``<path>.signature.json``; atomic; returns the CSV path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = df.copy()
    out["signature"] = compact(sig)
    tmp = path.with_name(path.name + ".tmp")
    out.to_csv(tmp, index=False, lineterminator="\n")
    side = path.with_name(path.name + ".signature.json")
    side.write_text(json.dumps(sig, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_signature(path: str | Path) -> dict[str, Any]:
    """Read the full signature written beside a table by :func:`write_table`."""
    side = Path(str(path) + ".signature.json")
    if not side.is_file():
        raise FileNotFoundError(f"{path}: no signature beside this table (expected {side.name})")
    return json.loads(side.read_text(encoding="utf-8"))
