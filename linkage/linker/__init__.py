"""Code that runs at the linkage unit, with encodings only: never raw identifiers, never the key.

Score pairs of filters (:mod:`.score`, kernels in :mod:`.kernels`), find candidate pairs
(:mod:`.block`), assign links one-to-one and band them (:mod:`.solve`), choose the threshold
without labels (:mod:`.threshold`), and link two files (:mod:`.link`), B a part at a time, in
this process or as tasks on Dask (:mod:`.distribute`). Nothing here imports
:mod:`linkage.provider`, nor the other way round: an import-contract test keeps the two apart.
"""

from .distribute import Cluster
from .link import LinkResult, LinkRun, check_compatible, link, link_files
from .score import Pairs, Scores, dice_pairs, dice_reference
from .solve import band_labels, solve_one_to_one
from .threshold import ThresholdFit, estimate_threshold

__all__ = [
    "Cluster", "LinkResult", "LinkRun", "Pairs", "Scores", "ThresholdFit", "band_labels", "check_compatible",
    "dice_pairs", "dice_reference", "estimate_threshold", "link", "link_files", "solve_one_to_one",
]
