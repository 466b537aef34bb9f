"""NER data: splits as Hugging Face ``datasets.Dataset`` objects with ``tokens``, ``ner_tags`` (``ClassLabel``) and
``langs``.

* :mod:`~xner.data.dataset` — building datasets from lists, reading and writing CoNLL files, label sets, explicit
  label mapping (:func:`map_labels`);
* :mod:`~xner.data.sources` — where a split comes from (an explicit path → ``XNER_DATA_DIR`` → the cache → the
  hub), :func:`load_split`, and the checks of ``xner check-data``.
"""

from xner.data.dataset import features, from_lists, label_set_of, map_labels, read_conll, tag_names, write_conll
from xner.data.sources import (
    MIXED_ENV,
    SOURCE_KINDS,
    SPLITS,
    DataNotFoundError,
    DatasetSpec,
    SplitSource,
    available_languages,
    check_data_source,
    check_pairs_data,
    data_dir,
    dataset_for,
    find_split_file,
    hub_offline,
    load_split,
    local_path,
    resolve_split,
    source_report,
    use_data_dir,
)

__all__ = [
    "DataNotFoundError",
    "DatasetSpec",
    "MIXED_ENV",
    "SOURCE_KINDS",
    "SPLITS",
    "SplitSource",
    "available_languages",
    "check_data_source",
    "check_pairs_data",
    "data_dir",
    "dataset_for",
    "features",
    "find_split_file",
    "from_lists",
    "hub_offline",
    "label_set_of",
    "load_split",
    "local_path",
    "map_labels",
    "read_conll",
    "resolve_split",
    "source_report",
    "tag_names",
    "use_data_dir",
    "write_conll",
]
