"""Drawing, apart from computing: matplotlib is imported here only, and only when used."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .evaluate import Evaluation

__all__ = ["plot_evaluation"]


def plot_evaluation(ev: Evaluation, path: str | Path | None = None, *, threshold: float | None = None):
    """Precision, recall and F1 against threshold, and score histograms of true and false links.

    Saves a PNG when ``path`` is given; returns the matplotlib figure.
    """
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("plots need matplotlib: pip install 'linkage[plot]'") from None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    c = ev.curve
    for col in ("precision", "recall", "f1"):
        ax1.plot(c["threshold"], c[col], label=col)
    ax1.set(xlabel="threshold", ylabel="value", title="Quality against threshold", ylim=(0, 1.02))
    h = ev.histogram
    width = float(h["bin_right"][0] - h["bin_left"][0])
    ax2.bar(h["bin_left"], h["true"], width=width, align="edge", alpha=0.6, label="true links")
    ax2.bar(h["bin_left"], h["false"], width=width, align="edge", alpha=0.6, label="false links")
    ax2.set(xlabel="Dice score", ylabel="links", title="Scores of true and false links", yscale="symlog")
    for ax in (ax1, ax2):
        if threshold is not None:
            ax.axvline(threshold, color="k", linestyle="--", linewidth=1, label=f"threshold {threshold:.3f}")
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
