"""Code that runs at the linkage unit, with encodings only: never raw identifiers, never the key.

Score pairs of filters (:mod:`.score`, kernels in :mod:`.kernels`), assign links one-to-one
and band them (:mod:`.solve`), choose the threshold without labels (:mod:`.threshold`), and
link two files (:mod:`.link`). Nothing here imports :mod:`linkage.provider`, nor the other
way round: an import-contract test keeps the two apart.
"""

from .link import LinkResult, LinkRun, check_compatible, link, link_files
from .score import Pairs, Scores, dice_pairs, dice_reference
from .solve import band_labels, solve_one_to_one
from .threshold import ThresholdFit, estimate_threshold

__all__ = [
    "LinkResult", "LinkRun", "Pairs", "Scores", "ThresholdFit", "band_labels", "check_compatible", "dice_pairs",
    "dice_reference", "estimate_threshold", "link", "link_files", "solve_one_to_one",
]
