"""Label-distribution divergence between two splits (a source training set and a target test set).

For each split a :class:`SplitProfile` holds the distributions that transfer may depend on:

* ``type_mix`` — entity types (over every type of the label set, zeros included);
* ``span_length`` — span lengths in words, pooled over types, and ``span_length[T]`` for each type ``T``;
* ``entities_per_sentence`` — how many entities a sentence carries (0, 1, 2, ...);
* ``transitions`` — tag bigrams, with ``<s>`` before the first and ``</s>`` after the last tag;

plus the vocabularies behind the surface-overlap measures. :func:`compare` turns two profiles into measures
named ``<family>.<statistic>``:

* ``js`` — Jensen–Shannon divergence in bits (base 2), in [0, 1]: the square of
  ``scipy.spatial.distance.jensenshannon(p, q, base=2)`` (scipy returns the distance, its square root);
  it needs no smoothing because the mixture is never zero where ``p`` or ``q`` is not;
* ``kl_st`` / ``kl_ts`` — Kullback–Leibler divergence in bits, source‖target and target‖source, after
  additive (Lidstone) smoothing: ``smoothing`` pseudo-counts are added to every cell of the union of both
  supports (for ``type_mix``: every type of the label set). ``smoothing=0`` is allowed only when no cell is
  zero where the other side is not; otherwise it is an error, never a silent infinity;
* ``wasserstein`` — the 1-Wasserstein (earth mover's) distance between length-like distributions
  (``span_length*`` and ``entities_per_sentence``), in words or entities, from ``scipy.stats.wasserstein_distance``.

Overlap measures (higher = more shared; a similarity, not a divergence), all as shares of *occurrences* in the
target split:

* ``entity_overlap`` — target entity mentions whose surface (words joined by a space, case-sensitive) occurs as
  an entity of any type in the source; ``entity_overlap_typed`` — the same with the type required to match
  (this is stage 01's ``entity_coverage``);
* ``entity_token_overlap`` — words inside target entities that occur inside some source entity;
* ``context_overlap`` — target context (``O``) words that occur as context words in the source (stage 01's
  ``context_coverage``);
* ``subword_overlap`` / ``entity_subword_overlap`` — with a tokenizer: target subword pieces (of all words /
  of entity words; each word tokenized on its own, as with ``is_split_into_words``) whose id occurs among
  the source's pieces. Pieces equal to the tokenizer's unknown token count as unseen.

Label sets that differ are first put on one label set by an explicit mapping (:func:`harmonize`, which calls
:func:`xner.data.map_labels`), and the mapping reports travel with the result.

Modules: :mod:`~xner.divergence.measures` (the statistics), :mod:`~xner.divergence.profiles` (split profiles),
:mod:`~xner.divergence.compare` (profile against profile), :mod:`~xner.divergence.tables` (all pairs, per pair),
:mod:`~xner.divergence.plots`, :mod:`~xner.divergence.dial` (resampling a source to a chosen divergence) and
:mod:`~xner.divergence.drop` (which divergence predicts the transfer drop).
"""

from xner.divergence.compare import (
    OverlapIndex,
    PairDivergence,
    check_measures,
    compare,
    compare_profiles,
    measure_kind,
    measure_names,
    split_measure,
)
from xner.divergence.measures import (
    DEFAULT_SMOOTHING,
    LENGTH_FAMILIES,
    OVERLAPS,
    STATISTICS,
    SUBWORD_MEASURES,
    DivergenceError,
    aligned,
    js_divergence,
    kl_divergence,
    length_wasserstein,
)
from xner.divergence.plots import figure_stem, plot_heatmap, plot_pair_table
from xner.divergence.profiles import (
    FlatSplit,
    SplitProfile,
    SubwordSplitter,
    add_subwords,
    distributions,
    families,
    flatten,
    harmonize,
    profile_split,
    resolve_tokenizer,
)
from xner.divergence.tables import (
    all_pairs,
    load_profiles,
    local_languages,
    local_pairs,
    matrix,
    pair_matrix,
    pair_table,
    write_tables,
)

__all__ = [
    "DEFAULT_SMOOTHING",
    "DivergenceError",
    "FlatSplit",
    "LENGTH_FAMILIES",
    "OVERLAPS",
    "OverlapIndex",
    "PairDivergence",
    "STATISTICS",
    "SUBWORD_MEASURES",
    "SplitProfile",
    "SubwordSplitter",
    "add_subwords",
    "aligned",
    "all_pairs",
    "check_measures",
    "compare",
    "compare_profiles",
    "distributions",
    "families",
    "figure_stem",
    "flatten",
    "harmonize",
    "js_divergence",
    "kl_divergence",
    "length_wasserstein",
    "load_profiles",
    "local_languages",
    "local_pairs",
    "matrix",
    "measure_kind",
    "measure_names",
    "pair_matrix",
    "pair_table",
    "plot_heatmap",
    "plot_pair_table",
    "profile_split",
    "resolve_tokenizer",
    "split_measure",
    "write_tables",
]
