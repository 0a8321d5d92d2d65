"""Comparing generative models on one data set: the evaluation table, memorisation and timing.

Chapter 11 puts every family of the course on chapter 04's binarised MNIST-5k and scores them the
same way; :mod:`.recipes` holds the binary-data models, the other modules the evaluation.
"""

from .memorisation import Memorisation, copy_fraction, memorisation, nearest_distances
from .table import (
           NLL_KINDS,
           Row,
           SampleScores,
           fd_bootstrap_se,
           format_table,
           mean_and_se,
           row_dict,
           score_samples,
)
from .timing import Timed, timed

__all__ = ["NLL_KINDS", "Row", "SampleScores", "score_samples", "fd_bootstrap_se", "mean_and_se",
           "format_table", "row_dict", "Memorisation", "memorisation", "nearest_distances", "copy_fraction",
           "Timed", "timed"]
