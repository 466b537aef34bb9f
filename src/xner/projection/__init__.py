"""Stage 03 — annotation projection: translate, align, project labels, evaluate on parallel gold, and build
translate-train data.

Modules, one job each:

* :mod:`~xner.projection.spans` — entity spans, per-entity outcomes, the projection report;
* :mod:`~xner.projection.translate` — translators (identity, Apertium, NLLB-200) with a disk cache;
* :mod:`~xner.projection.align` — aligners (eflomal, embedding/SimAlign-style with any encoder, awesome-align
  extraction, string similarity, combinations) and symmetrisation; *the* place alignment indexing is defined;
* :mod:`~xner.projection.heuristic` — the word-alignment heuristic;
* :mod:`~xner.projection.candidates` — n-gram / NER-model candidates and candidate–entity scores;
* :mod:`~xner.projection.match` — exact ILP (scipy ``milp``) and greedy matching;
* :mod:`~xner.projection.mark` — mark-then-translate (EasyProject);
* :mod:`~xner.projection.refine` — back-translation refinement;
* :mod:`~xner.projection.project` — run a method over a corpus;
* :mod:`~xner.projection.evaluate` — intrinsic evaluation on parallel gold (Europarl en→es or your own);
* :mod:`~xner.projection.translate_train` — translate-train datasets with a projection report;
* :mod:`~xner.projection.translate_test` — translate-test: target → source translation, a source model's tags
  projected back;
* :mod:`~xner.projection.compare` — data transfer (translate-test, translate-train) against zero-shot model
  transfer on one pair, with paired tests, a verdict per pair and a figure.
"""

from xner.projection.project import METHODS, CorpusProjection, ProjectionConfig, project_corpus
from xner.projection.spans import Entity, EntityOutcome, ProjectionReport

__all__ = [
    "METHODS",
    "CorpusProjection",
    "Entity",
    "EntityOutcome",
    "ProjectionConfig",
    "ProjectionReport",
    "project_corpus",
]
