"""Small helpers every package uses, with no dependency on any other xner module but :mod:`xner.config`:
seeding, the CPU threads a process may use, capping a dataset, a digest of tokenized text (a cache key), and
typing the fields of a configuration dataclass read from YAML or the command line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import types
import typing
from collections.abc import Sequence
from typing import Any

import numpy as np

from xner.config import ConfigError


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU) random number generators."""
    import torch  # heavy; imported only when seeding a torch run

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def cap(ds: Any, n: int | None) -> Any:
    """The first ``n`` sentences of a dataset (all when ``n`` is None)."""
    return ds if n is None or len(ds) <= n else ds.select(range(n))


def default_threads() -> int:
    """The number of CPUs this process may use (``sched_getaffinity``), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _base_type(tp: Any) -> tuple[Any, bool]:
    """Return (the non-None type, whether None is allowed) of an annotation such as ``int | None``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else tp), len(args) < len(typing.get_args(tp))
    return tp, False


def coerce_fields(obj: Any) -> None:
    """Convert string values from YAML to each field's declared scalar type (in place); raise on failure."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        tp, optional = _base_type(hints[f.name])
        if value is None:
            if not optional:
                raise ConfigError(f"{type(obj).__name__}.{f.name} may not be None")
            continue
        try:
            if tp is bool:
                if isinstance(value, str):
                    if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                        raise ValueError(value)
                    value = value.lower() in ("true", "yes", "1")
                elif not isinstance(value, bool):
                    raise ValueError(value)
            elif tp is int:
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError(value)
                value = int(value)
            elif tp is float:
                if isinstance(value, bool):
                    raise ValueError(value)
                value = float(value)
            elif tp is str:
                if not isinstance(value, str):
                    raise ValueError(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{type(obj).__name__}.{f.name}: {value!r} is not a valid {getattr(tp, '__name__', tp)}"
            ) from None
        setattr(obj, f.name, value)


def text_digest(sentences: Sequence[Sequence[str]]) -> str:
    """A sha256 of tokenized sentences (the cache key of text: pretraining data, memoised predictions)."""
    h = hashlib.sha256()
    for s in sentences:
        h.update("\x1f".join(s).encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()
