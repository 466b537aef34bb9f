"""Encoders by name: the offline ones (``e5-small``, ``mini-<size>``) and any Hugging Face name or local folder.

:func:`resolve_encoder` turns a name into something ``from_pretrained`` accepts:

* ``"e5-small"`` → the converted multilingual-e5-small checkpoint (:func:`xner.modeling.encoders.e5.e5_checkpoint`);
* ``"mini-tiny"``, ``"mini-small"``, ``"mini-base"`` → a mini encoder pretrained on the given languages
  (:func:`xner.modeling.encoders.mini.mini_encoder`, cached);
* a local folder → itself (it must hold ``config.json``);
* any other name → itself, after checking that it can be loaded: from the local Hugging Face cache, or from
  the hub unless ``HF_HUB_OFFLINE`` is set. A name that cannot be found says how to point at a local folder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from xner.modeling.encoders.e5 import e5_checkpoint
from xner.modeling.encoders.mini import mini_encoder, parse_name

if TYPE_CHECKING:
    from xner.modeling.encoders.mini import MiniConfig

OFFLINE_ENCODERS = ("e5-small", "mini-tiny", "mini-small", "mini-base")


class EncoderNotFoundError(OSError):
    """An encoder name is neither an offline encoder, a local folder, nor loadable from the hub or its cache."""


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _not_found(name: str, why: str) -> EncoderNotFoundError:
    return EncoderNotFoundError(
        f"encoder {name!r} cannot be found: {why}. Without the hub, point the model setting at a local folder "
        "that holds config.json, the weights and the tokenizer files (e.g. one written by save_pretrained, or "
        "`huggingface-cli download NAME --local-dir FOLDER` on a machine with the hub), or use an offline encoder: "
        + ", ".join(OFFLINE_ENCODERS)
        + "."
    )


def resolve_encoder(
    name: str, *, languages: Sequence[str] | None = None, seed: int = 0, mini_config: MiniConfig | None = None
) -> str:
    """Map an encoder name to a path or hub name that ``from_pretrained`` accepts (see the module docstring).

    Args:
        name: ``e5-small``, ``mini-<size>``, a local folder, or a Hugging Face model name.
        languages: the pretraining languages of a ``mini-<size>`` encoder (required for those).
        seed: the pretraining seed of a ``mini-<size>`` encoder.
        mini_config: pretraining settings of a ``mini-<size>`` encoder (its size and seed come from the name
            and ``seed``); default :class:`xner.modeling.encoders.mini.MiniConfig`.
    """
    if not name:
        raise EncoderNotFoundError("empty encoder name; use e.g. 'e5-small', 'mini-small' or a local folder")
    if name == "e5-small":
        return str(e5_checkpoint())
    if name.startswith("mini-"):
        size = parse_name(name)
        if not languages:
            raise EncoderNotFoundError(f"{name} is pretrained on the text of given languages: pass languages=[...]")
        return str(mini_encoder(languages, size=size or "small", seed=seed, config=mini_config))
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise _not_found(name, f"the folder {path} has no config.json")
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise _not_found(name, "no such local folder")
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name, local_files_only=True)
        return name
    except (OSError, ValueError) as exc:
        local_error = exc
    if _hub_offline():
        raise _not_found(
            name, f"HF_HUB_OFFLINE is set and it is not in the local Hugging Face cache ({local_error})"
        ) from local_error
    try:
        AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise _not_found(name, f"not in the local Hugging Face cache and the hub did not provide it ({exc})") from exc
    return name


__all__ = ["EncoderNotFoundError", "OFFLINE_ENCODERS", "resolve_encoder"]
