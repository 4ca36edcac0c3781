"""PNG plots of a comparison: turnaround by priority and policy, load per reader over the day."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI

import matplotlib.pyplot as plt
import numpy as np

from balancer.simulation.engine import Run
from balancer.simulation.metrics import PRIORITIES
from balancer.simulation.scenario import Scenario


def turnaround(scn: Scenario, runs: list[Run], path: Path) -> None:
    """Cumulative turnaround distribution, one panel per priority, one line per policy."""
    ready = np.array(scn.ready_min)
    prio = np.array([s.priority.value for s in scn.studies])
    fig, axes = plt.subplots(1, len(PRIORITIES), figsize=(15, 4.5))
    for ax, p in zip(axes, PRIORITIES, strict=True):
        mask = prio == p.value
        for run in runs:
            tat = np.sort((np.array(run.finish) - ready)[mask])
            ax.plot(tat, np.arange(1, tat.size + 1) / tat.size, label=run.policy)
        ax.set_xscale("log")
        ax.set_title(f"{p.value} turnaround")
        ax.set_xlabel("minutes from ready to read (log)")
        ax.set_ylabel("share of studies")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def load(scn: Scenario, runs: list[Run], path: Path) -> None:
    """wRVU read per reader and hour, one heat map per policy."""
    hours = 30
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 5), sharey=True)
    for ax, run in zip(np.atleast_1d(axes), runs, strict=True):
        grid = np.zeros((len(scn.roster), hours))
        for k, r in enumerate(run.reader):
            h = int(run.start[k] // 60)
            if r >= 0 and h < hours:
                grid[r, h] += scn.studies[k].wrvu
        image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=16)
        ax.set_title(f"{run.policy}: wRVU read per hour")
        ax.set_xlabel("hour of the simulated day")
    np.atleast_1d(axes)[0].set_ylabel("radiologist")
    fig.colorbar(image, ax=axes, shrink=0.8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
