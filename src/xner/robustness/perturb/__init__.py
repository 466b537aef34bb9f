"""Label-preserving perturbations of NER test sets, each seeded and each reporting what it changed.

Families (one module each): :mod:`~xner.robustness.perturb.entities` (unseen-entity replacement),
:mod:`~xner.robustness.perturb.names` (foreign names from Faker locales), :mod:`~xner.robustness.perturb.context`
(context-word
replacement), :mod:`~xner.robustness.perturb.noise` (masking, deletion, random tokens, character noise),
:mod:`~xner.robustness.perturb.codeswitch` (bilingual dictionaries, :mod:`~xner.robustness.perturb.dictionaries`) and
:mod:`~xner.robustness.perturb.compose`. :mod:`~xner.robustness.perturb.registry` builds any of them by name::

    ctx = PerturbationContext(lang="pt", source_lang="es", source_train=es_train, target_train=pt_train)
    perturbed, report = build("unseen_entities", ctx).apply(pt_test, seed=0)
    print(report.summary())
"""

from xner.robustness.perturb.base import (
    Perturbation,
    PerturbationReport,
    PerturbationResult,
    PerturbationUnavailable,
    PerturbationWarning,
)
from xner.robustness.perturb.codeswitch import CodeSwitch
from xner.robustness.perturb.compose import Compose
from xner.robustness.perturb.context import ContextReplacement, WordVectors
from xner.robustness.perturb.dictionaries import (
    BilingualDictionary,
    DictionaryNotFound,
    find_freedict,
    installed_freedict,
)
from xner.robustness.perturb.entities import Entity, UnseenEntityReplacement
from xner.robustness.perturb.names import ForeignNameReplacement
from xner.robustness.perturb.noise import CharacterNoise, Masking, RandomTokens
from xner.robustness.perturb.registry import PerturbationContext, Unavailable, available, build, compose

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
