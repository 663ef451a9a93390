"""Figures of a comparison: proxy-vs-target scatter plots, and a bar chart of Kendall tau (needs matplotlib)."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .errors import ZcDiscoverError


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise ZcDiscoverError("plots need matplotlib: pip install 'zc-discover[plot]'") from None
    return plt


def scatter_grid(report: pd.DataFrame, path: Path, meta: dict) -> Path:
    """One scatter plot of proxy against target per proxy of a comparison report."""
    plt = _pyplot()
    scores, target = report.attrs["scores"], report.attrs["target"]
    names = [p for p in report["proxy"] if p in scores]
    columns = min(4, max(1, len(names)))
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.8 * rows), squeeze=False)
    kendall = dict(zip(report["proxy"], report["kendall"]))
    for axis, name in zip(axes.flat, names):
        axis.scatter(scores[name], target, s=4, alpha=0.5)
        tau = kendall.get(name)
        axis.set_title(f"{name}\nKendall {tau:.3f}" if tau == tau else f"{name}\n(undefined)", fontsize=8)
        axis.tick_params(labelsize=6)
        axis.locator_params(axis="x", nbins=4)
        axis.set_xlabel(f"{name} score", fontsize=7)
        axis.set_ylabel("target (higher is better)", fontsize=7)
    for axis in list(axes.flat)[len(names):]:
        axis.axis("off")
    figure.suptitle(f"{meta['benchmark']} ({meta['builder']}): proxy (x) vs target (y)", fontsize=10)
    figure.tight_layout()
    _save(plt, figure, path)
    return path


def kendall_bars(report: pd.DataFrame, path: Path, meta: dict) -> Path:
    """Kendall tau of every proxy on all architectures; a discovered proxy shows its held-out tau (with spread)."""
    plt = _pyplot()
    data = report.dropna(subset=["kendall"]).copy()
    heldout = data["heldout_kendall"] if "heldout_kendall" in data else pd.Series([None] * len(data), index=data.index)
    values = [h if h is not None and h == h else k for h, k in zip(heldout, data["kendall"])]
    errors = [(s if s is not None and s == s else 0.0)
              for s in (data["heldout_kendall_std"] if "heldout_kendall_std" in data else [None] * len(data))]
    order = sorted(range(len(values)), key=lambda i: values[i])
    figure, axis = plt.subplots(figsize=(7, 0.3 * len(values) + 1.2))
    colours = ["tab:orange" if str(data["proxy"].iloc[i]).startswith("discovered:") else "tab:blue" for i in order]
    axis.barh([data["proxy"].iloc[i] for i in order], [values[i] for i in order],
              xerr=[errors[i] for i in order], color=colours)
    discovered = any(str(p).startswith("discovered:") for p in data["proxy"])
    axis.set_xlabel("Kendall tau with the target" + (" (discovered proxies: held-out mean over folds)"
                                                    if discovered else ""))
    axis.set_title(f"{meta['benchmark']} ({meta['builder']})", fontsize=10)
    axis.axvline(0, color="black", linewidth=0.5)
    figure.tight_layout()
    _save(plt, figure, path)
    return path


def _save(plt, figure, path: Path) -> None:
    """Render the figure to bytes and write them with the project's one writer (atomic; never through a link)."""
    import io

    from .files import write_text
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    root = path.parent.parent if path.parent.name in ("stages", "checkpoints") else path.parent
    write_text(path, buffer.getvalue(), root=root)


def run_figures(folder: Path, equations: pd.DataFrame, metrics: dict) -> list[Path]:
    """A search's figures in its run folder: ``front.png`` (training and validation score against complexity, the
    chosen formula marked) and ``heldout.png`` (each fold's training score against its held-out Kendall). Without
    matplotlib none are drawn (said once in the log)."""
    try:
        plt = _pyplot()
    except ZcDiscoverError:
        import logging
        logging.getLogger(__name__).info("matplotlib is not installed: no figures in %s", folder)
        return []
    written = []
    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    axis.plot(equations["complexity"], equations["train"], "o-", label="train (fitness), best at each complexity")
    axis.plot(equations["complexity"], equations["validation"], "s--", label="inner validation")
    if "pareto" in equations:
        front = equations[equations["pareto"].astype(bool)]
        axis.scatter(front["complexity"], front["train"], s=60, color="black", zorder=3, label="front")
    chosen = equations[equations["tree"] == metrics.get("tree")]
    if len(chosen):
        axis.scatter(chosen["complexity"], chosen["validation"], s=120, facecolors="none", edgecolors="red",
                     label="chosen")
    written.append(_finish(plt, figure, axis, "complexity (tree size)", "rank correlation",
                           "best formula at each complexity", folder / "front.png"))
    folds = metrics.get("folds") or {}
    if folds:
        figure, axis = plt.subplots(figsize=(5.5, 3.6))
        for benchmark in metrics.get("heldout", {}):
            points = [(metrics["fold_train"].get(stage), result.get(benchmark, {}).get("kendall"))
                      for stage, result in folds.items()]
            points = [(x, y) for x, y in points if x is not None and y is not None]
            if points:
                axis.scatter(*zip(*points), label=benchmark)
        written.append(_finish(plt, figure, axis, "fold's training score (fitness)", "held-out Kendall tau",
                               "train vs held out, one point per fold", folder / "heldout.png"))
    return written


def _finish(plt, figure, axis, xlabel: str, ylabel: str, title: str, path: Path) -> Path:
    """Label, lay out, save and close a one-axis figure."""
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=7)
    figure.tight_layout()
    _save(plt, figure, path)
    return path
