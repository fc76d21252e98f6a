"""For researchers: synthetic data with ground truth, quality against it, and plots.

:func:`synth_families` makes two providers' extracts of UK families and the true pairs (its
name and postcode tables are data files in ``data/``); :func:`evaluate` measures links
against the truth; :func:`plot_evaluation` draws the result (matplotlib, imported there only).
"""

from .evaluate import Evaluation, evaluate, score_histogram, threshold_curve
from .plots import plot_evaluation
from .synth import SynthData, synth_families

__all__ = ["Evaluation", "SynthData", "evaluate", "plot_evaluation", "score_histogram", "synth_families",
           "threshold_curve"]
