"""xner — how cross-lingual named entity recognition degrades, and what protects it.

The package holds all logic of the compendium; the notebooks under ``notebooks/`` only call it.
Modules (one job each): :mod:`xner.config` (paths and ``configs/languages.yaml``), :mod:`xner.labels`
(label sets, schemes, mappings), :mod:`xner.conll` (reading and writing CoNLL/IOB files), :mod:`xner.data`
(loading splits as ``datasets.Dataset``), :mod:`xner.metrics` (strict/lenient span F1, bootstrap),
:mod:`xner.signature` (run signatures and tables), :mod:`xner.inspection` (stage 01 statistics),
:mod:`xner.figures` (figure style and deterministic saving), :mod:`xner.runs` (headless notebook runs).
"""

__version__ = "0.1.0"
