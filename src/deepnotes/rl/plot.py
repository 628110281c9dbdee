"""The return curve of a DQN run as a PNG (needs matplotlib, the ``plot`` extra)."""

import numpy as np

from ..errors import require

__all__ = ["plot_returns"]


def plot_returns(history, path, solved_return=475.0, window=20, title=None):
    """Plot a :func:`train_dqn` history: each training episode's return (faint), their running mean over
    ``window`` episodes, and the greedy evaluations' mean with min-max bars, against environment steps.

    ``history`` may also be a list of histories (several seeds, each with a ``"label"``): each gets its
    own colour, with the evaluation means and the running mean of training returns only.
    """
    matplotlib = require("matplotlib", "plot_returns", "plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    histories = history if isinstance(history, (list, tuple)) else [history]
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, h in enumerate(histories):
        colour = f"C{k}"
        label = h.get("label", "") if len(histories) > 1 else ""
        episodes = h.get("episodes", [])
        if episodes:
            steps = np.array([e["step"] for e in episodes])
            returns = np.array([e["return"] for e in episodes])
            if len(histories) == 1:
                ax.plot(steps, returns, color=colour, alpha=0.15, linewidth=0.8)
            if len(returns) >= window:
                running = np.convolve(returns, np.ones(window) / window, mode="valid")
                running_label = f"thin: training return, running mean of {window}" if k == 0 else None
                ax.plot(steps[window - 1 :], running, color=colour, linewidth=1.0, alpha=0.6, label=running_label)
        evals = h.get("evaluations", [])
        if evals:
            x = np.array([r["step"] for r in evals])
            mean = np.array([r["mean"] for r in evals])
            if len(histories) == 1:
                lo, hi = mean - np.array([r["min"] for r in evals]), np.array([r["max"] for r in evals]) - mean
                ax.errorbar(
                    x,
                    mean,
                    yerr=[lo, hi],
                    color=colour,
                    marker="o",
                    markersize=3,
                    linewidth=1.5,
                    capsize=2,
                    label="greedy evaluation (mean, min-max)",
                )
            else:  # several seeds: means only, the bars of all seeds would hide each other
                ax.plot(
                    x, mean, color=colour, marker="o", markersize=3, linewidth=1.5, label=f"{label}: evaluation mean"
                )
    if solved_return is not None:
        ax.axhline(solved_return, color="k", linestyle="--", linewidth=0.8, label=f"solved ({solved_return:g})")
    ax.set_ylim(0, 520)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
