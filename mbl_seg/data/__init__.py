"""Course data: synthetic EM volumes, imaging domains and the cached course datasets.

Used in: notebooks/00_setup_and_data and every later notebook.
"""

from .datasets import (
    DATASETS,
    REAL,
    CourseDataset,
    data_dir,
    list_datasets,
    load_dataset,
    prepare_datasets,
)
from .domains import DOMAINS, Domain, get_domain
from .remote import Remote, fetch, list_remote
from .pretrained import list_pretrained, pretrained
from .synthetic import SyntheticVolume, randomized_look, synthetic_volume

__all__ = [
    "DATASETS", "REAL", "CourseDataset", "data_dir", "list_datasets", "load_dataset",
    "prepare_datasets", "DOMAINS", "Domain", "get_domain", "SyntheticVolume",
    "synthetic_volume", "randomized_look", "pretrained", "list_pretrained", "fetch",
    "list_remote", "Remote",
]
