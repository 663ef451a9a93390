"""Every method side by side on one stored pruning space: the published criteria, the weight proxies on each
sub-network's weights, and any formula (a discovered run's), under the same rank metrics.

Read from the stored space alone (``space_values.read_space``): no model, no text. A stored space is named
``pruning:MODEL-KIND`` (``pruning:llama-8-depth``), as ``zc-discover benchmarks`` lists them.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..benchmarks.pruning.space import KINDS
from ..errors import ConfigError, DataError, UnknownNameError
from ..formula import Formula
from ..metrics import table_quality
from .criteria import CRITERIA, criteria_for
from .space_values import read_space, values_root
from .table import ARMS, equal_size_kendall, space_table

PREFIX = "pruning:"
WEIGHT_PROXIES = ("zerolm", "nsc", "params")   # registered proxies that read a sub-network's weights alone
COLUMNS = ["method", "kind of method", "cost", "zero_cost", "n", "kendall_equal_size", "kendall", "spearman",
           "source"]


def stored_spaces(root: str | os.PathLike | None = None) -> list[str]:
    """The names (``pruning:MODEL-KIND``) of the stored pruning spaces, from their provenance files' names."""
    folder = Path(root) if root is not None else values_root()
    names = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        stem = path.name[:-len(".json")]
        if stem.rsplit("-", 1)[-1] in KINDS:
            names.append(PREFIX + stem)
    return names


def parse_space(name: str, root: str | os.PathLike | None = None) -> tuple[str, str]:
    """(model, kind) of a stored space's name (``pruning:llama-8-depth``); an unknown one with the stored names."""
    text = str(name)
    stem = text[len(PREFIX):] if text.startswith(PREFIX) else text
    model, _, kind = stem.rpartition("-")
    known = stored_spaces(root)
    if PREFIX + stem not in known:
        if kind not in KINDS or not model:
            raise UnknownNameError("pruning space", text, known)
        where = "" if root is None else f" in {root}"
        how = f"'python experiments/pruning_values.py --models {model} --kinds {kind}'" if root is None else \
            f"'zc-discover prune MODEL_FOLDER --kind {kind} --store {root}'"
        raise DataError(f"no stored pruning space {PREFIX}{stem}{where} (stored: {', '.join(known) or 'none'}); "
                        f"compute it with {how}")
    return model, kind


def locate_space(name: str, root: str | os.PathLike | None = None) -> tuple[str, str, Path | None]:
    """(model, kind, folder) of a space's name: ``pruning:MODEL-KIND`` among the stored ones (under ``root``), or
    ``pruning:DIR/MODEL-KIND`` for one stored in a folder of your own (``zc-discover prune MODEL --store DIR``)."""
    text = str(name)
    stem = text[len(PREFIX):] if text.startswith(PREFIX) else text
    if "/" in stem or os.sep in stem:
        path = Path(stem).expanduser()
        model, kind = parse_space(path.name, path.parent)
        return model, kind, path.parent
    model, kind = parse_space(stem, root)
    return model, kind, Path(root) if root is not None else None


def baseline_scores(candidates: pd.DataFrame, units: pd.DataFrame, kind: str) -> dict[str, np.ndarray]:
    """Every baseline's scores on one space: the criteria on the unit statistics, the weight proxies on each
    sub-network's weight features (higher: the sub-network should be better)."""
    from ..proxies.evaluate import proxy_values
    from ..proxies.registry import ProxyContext
    table = space_table(candidates, units, kind, "weights")
    out = {c.name: np.asarray(c.score(candidates, units, kind), float) for c in criteria_for(kind)}
    context = ProxyContext(benchmark=None, table=table, builder="trained", seed=0)
    for name in WEIGHT_PROXIES:
        out[name] = np.asarray(proxy_values(context, name).scores, float)
    return out


def formula_arm(formula: Formula, tables: dict[str, pd.DataFrame]) -> str:
    """The cheapest arm whose table holds every column ``formula`` reads (``weights``, then ``calibration``)."""
    for arm in ARMS:
        if set(formula.features) <= set(tables[arm].columns):
            return arm
    missing = sorted(set(formula.features) - set(tables[ARMS[-1]].columns))
    raise ConfigError(f"the formula reads {', '.join(missing[:3])}, which a pruning space does not have (its "
                      "columns: the sub-network's weight features and removed_<sum|max|min>_<unit statistic>); "
                      "score a formula searched on pruning spaces, or on weight features only")


def compare_space(model: str, kind: str, methods: list[str] | None = None,
                  formulas: dict[str, Formula] | None = None,
                  root: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per method on the stored space of ``model`` and ``kind``.

    Parameters
    ----------
    model, kind : str
        A stored space (``stored_spaces``; ``parse_space`` reads its name).
    methods : list of str, optional
        Criteria (``pruning.CRITERIA``) and weight proxies (zerolm, nsc, params); default: every one that applies.
    formulas : dict, optional
        Name -> formula (a discovered run's), scored on the cheapest arm holding its columns.
    root : path, optional
        Where the stored spaces are (default ``data/values/pruning``).

    Returns
    -------
    pandas.DataFrame
        ``kendall_equal_size``: Kendall within groups of candidates that remove the same number of units (the
        choice a pruner faces; a count is constant there: NaN), pooled; ``kendall`` and ``spearman`` over all
        candidates (which size alone mostly decides). Sorted by ``kendall_equal_size``.
    """
    candidates, units, provenance = read_space(model, kind, root)
    scores = baseline_scores(candidates, units, kind)
    if methods is not None:
        unknown = [m for m in methods if m not in scores]
        if unknown:
            usable = list(scores)
            if unknown[0] in CRITERIA or unknown[0] in WEIGHT_PROXIES:
                raise ConfigError(f"{unknown[0]} does not apply to {kind} pruning; it applies to: "
                                  f"{', '.join(usable)}")
            raise UnknownNameError("pruning method", unknown[0], usable)
        scores = {m: scores[m] for m in methods}
    tables = {arm: space_table(candidates, units, kind, arm) for arm in ARMS}
    table, removed = tables["weights"], candidates["removed"].to_numpy()
    rows = []
    for name, values in scores.items():
        criterion = CRITERIA.get(name)
        rows.append(_row(name, values, table, removed,
                         "criterion" if criterion else "weight proxy",
                         criterion.cost if criterion else "none (weights)",
                         criterion.zero_cost if criterion else True,
                         criterion.paper if criterion else _citation(name)))
    for name, formula in (formulas or {}).items():
        arm = formula_arm(formula, tables)
        values = np.asarray(formula.evaluate(tables[arm]), float)
        cost = "none (weights)" if arm == "weights" else "the unit statistics' passes, per model"
        rows.append(_row(name, values, table, removed, f"formula ({arm} arm)", cost, arm == "weights",
                         str(formula)))
    report = pd.DataFrame(rows, columns=COLUMNS)
    report.attrs.update({"space": f"{PREFIX}{model}-{kind}", "request": provenance["request"],
                         "candidates": int(provenance["candidates"])})
    return report.sort_values("kendall_equal_size", ascending=False, na_position="last",
                              kind="mergesort").reset_index(drop=True)


def _citation(name: str) -> str:
    from ..proxies.registry import get_proxy
    return get_proxy(name).citation


def _row(name, values, table, removed, what, cost, zero_cost, source) -> dict:
    quality = table_quality(values, table)
    return {"method": name, "kind of method": what, "cost": cost, "zero_cost": bool(zero_cost),
            "n": int(np.isfinite(values).sum()),
            "kendall_equal_size": equal_size_kendall(values, table["target"], removed),
            "kendall": quality.kendall, "spearman": quality.spearman, "source": source}


def write_pruning_report(report: pd.DataFrame, out_dir: str | os.PathLike) -> list[Path]:
    """``compare.csv``, ``compare.md`` and ``compare.json`` (the stored space's provenance, this code's version) of
    a ``compare_space`` table, in the folder ``out_dir``."""
    import json
    from ..files import check_own_file, write_text
    from ..version import __version__
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"-o {out} is a file; give a folder for the report")
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in ("compare.csv", "compare.md", "compare.json")]
    for path in paths:
        check_own_file(path)   # before anything is written: a link or a hard-linked file is refused
    write_text(paths[0], report.to_csv(index=False), root=out)
    header = (f"# {report.attrs['space']} ({report.attrs['candidates']} sub-networks of a trained model)\n\n"
              "Signed correlations with minus the held-out loss (higher is better); `kendall_equal_size` compares "
              "only candidates that remove the same number of units; `cost`: passes over the calibration batch.\n\n")
    write_text(paths[1], header + report.to_markdown(index=False, floatfmt=".3f") + "\n", root=out)
    meta = {"space": report.attrs["space"], "request": report.attrs["request"], "code": __version__,
            "date": time.strftime("%Y-%m-%d")}
    write_text(paths[2], json.dumps(meta, indent=2) + "\n", root=out)
    return paths
