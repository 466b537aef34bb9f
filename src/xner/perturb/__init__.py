"""Label-preserving perturbations of NER test sets, each seeded and each reporting what it changed.

Families (one module each): :mod:`~xner.perturb.entities` (unseen-entity replacement),
:mod:`~xner.perturb.names` (foreign names from Faker locales), :mod:`~xner.perturb.context` (context-word
replacement), :mod:`~xner.perturb.noise` (masking, deletion, random tokens, character noise),
:mod:`~xner.perturb.codeswitch` (bilingual dictionaries, :mod:`~xner.perturb.dictionaries`) and
:mod:`~xner.perturb.compose`. :mod:`~xner.perturb.registry` builds any of them by name::

    from xner.perturb import PerturbationContext, build
    ctx = PerturbationContext(lang="pt", source_lang="es", source_train=es_train, target_train=pt_train)
    perturbed, report = build("unseen_entities", ctx).apply(pt_test, seed=0)
    print(report.summary())
"""

from xner.perturb.base import (
    Perturbation,
    PerturbationReport,
    PerturbationResult,
    PerturbationUnavailable,
    PerturbationWarning,
)
from xner.perturb.codeswitch import CodeSwitch
from xner.perturb.compose import Compose
from xner.perturb.context import ContextReplacement, WordVectors
from xner.perturb.dictionaries import BilingualDictionary, DictionaryNotFound, find_freedict, installed_freedict
from xner.perturb.entities import Entity, UnseenEntityReplacement
from xner.perturb.names import ForeignNameReplacement
from xner.perturb.noise import CharacterNoise, Masking, RandomTokens
from xner.perturb.registry import PerturbationContext, Unavailable, available, build, compose

__all__ = [
    "BilingualDictionary",
    "CharacterNoise",
    "CodeSwitch",
    "Compose",
    "ContextReplacement",
    "DictionaryNotFound",
    "Entity",
    "ForeignNameReplacement",
    "Masking",
    "Perturbation",
    "PerturbationContext",
    "PerturbationReport",
    "PerturbationResult",
    "PerturbationUnavailable",
    "PerturbationWarning",
    "RandomTokens",
    "Unavailable",
    "UnseenEntityReplacement",
    "WordVectors",
    "available",
    "build",
    "compose",
    "find_freedict",
    "installed_freedict",
]
