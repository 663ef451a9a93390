"""The stored robustness spaces (``lonas:ENCODER-TASK``) as benchmarks: every weight proxy and discovered formula
scored against every robustness target of a task's sub-networks, from the stored values alone (no model, no text).

A stored space is two values files under ``data/values/robustness``: ``<task>-<encoder>-targets.csv.gz`` (what
``experiments/robustness_subnets.py`` measured per sub-network: dev/test accuracy and each attack's clean and
attacked accuracy, success rate, perturbed fraction, queries) and ``<task>-<encoder>-features.csv.gz`` (the weight
features of each materialized sub-network, ``space.features_table``; written by ``experiments/robustness_study.py``),
each with its provenance. The two are refused together unless they name the same super-adapter. A third,
``<task>-<encoder>-probes.csv.gz`` (``probes.probe_values``, written by the study too), holds the published
data proxies (synflow, SNIP, GraSP, Fisher, NASWOT, Jacobian covariance, LPZero's, EZNAS's, W-PCA, ...) of each
sub-network from one probe batch of train sentences; where it is stored, they are scored like the weight proxies.

Correlations are Spearman (the seed paper's measure) with a seeded 95% bootstrap interval over sub-networks, and
Kendall's tau-b. A *higher* score should mean *more* of the target for accuracies, and *less* for the success
rate and perturbed fraction as an attacker sees them: the sign is reported as measured, never flipped.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from .. import values
from ..errors import ConfigError, DataError, UnknownNameError
from ..formula import Formula
from ..proxies.evaluate import proxy_values
from ..proxies.registry import ProxyContext
from .space import space_table
from .stored import PREFIX, probes_path, space_paths, stored_spaces, values_root

PROXIES = ("zerolm", "nsc", "params", "params_attention", "params_ffn", "flops")
MEASURED = "dev accuracy (measured)"   # one pass over the dev split: a reference, not a zero-cost proxy
COLUMNS = ["target", "proxy", "spearman", "low", "high", "kendall"]


def parse_space(name: str, root: str | os.PathLike | None = None) -> tuple[str, str]:
    """(encoder, task) of a stored space's name; an unknown one is refused with the stored names."""
    from ..text import TASKS
    text = str(name)
    stem = text[len(PREFIX):] if text.startswith(PREFIX) else text
    task = next((t for t in TASKS if stem.endswith("-" + t)), None)
    known = stored_spaces(root)
    if task is None or PREFIX + stem not in known:
        if task is None:
            raise UnknownNameError("robustness space", text, known)
        raise DataError(f"no stored robustness space {PREFIX}{stem} (stored: {', '.join(known) or 'none'}); measure "
                        f"it with 'python experiments/robustness_subnets.py --tasks {task}' and then "
                        "'python experiments/robustness_study.py'")
    return stem[:-len(task) - 1], task


def read_features(path: Path) -> pd.DataFrame:
    """A stored features file as one row per sub-network (``arch_id`` and a column per feature)."""
    long = values.read_values([path])
    return long.pivot(index="arch_id", columns="proxy", values="value").reset_index()


def read_space(encoder: str, task: str, root: str | os.PathLike | None = None
               ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(targets in long form, features one row per sub-network, the targets' provenance) of a stored space, each
    file digest-checked, refused together when they name different super-adapters."""
    targets_path, features_path = space_paths(encoder, task, root)
    targets, meta = values.read_values([targets_path]), values.provenance(targets_path)
    features_meta = values.provenance(features_path)
    if features_meta.get("adapter_sha256") != meta["adapter"]["weights_sha256"]:
        raise DataError(f"{features_path}: features of another super-adapter than {targets_path} was measured on; "
                        "run experiments/robustness_study.py again")
    return targets, read_features(features_path), meta


def read_probes(encoder: str, task: str, adapter_sha256: str, root: str | os.PathLike | None = None
                ) -> pd.DataFrame | None:
    """The stored data proxies of a space's sub-networks (long values, ``failure`` saying why one has none), or
    None where they were not measured; refused when measured on another super-adapter."""
    path = probes_path(encoder, task, root)
    if not path.is_file():
        return None
    if values.provenance(path).get("adapter_sha256") != adapter_sha256:
        raise DataError(f"{path}: data proxies of another super-adapter than the targets were measured on; run "
                        "experiments/robustness_study.py again")
    return values.read_values([path])


def probe_names(probes: pd.DataFrame | None) -> list[str]:
    """The data proxies with a value on at least one sub-network, in stored order."""
    if probes is None:
        return []
    ok = probes[np.isfinite(probes.value.to_numpy(float))]
    return [n for n in dict.fromkeys(probes.proxy) if n in set(ok.proxy)]


def _probe_scores(name: str, probes: pd.DataFrame | None, ids: list[str]) -> np.ndarray:
    if probes is None or name not in set(probes.proxy):
        raise ConfigError(f"{name} runs the model on data, and this robustness space has no stored data proxies; "
                          "measure them with 'python experiments/robustness_study.py' or choose among the weight "
                          f"proxies ({', '.join(PROXIES)}, ...)")
    scores, failures = values.values_of(probes, name, ids)
    if not np.isfinite(scores).any():
        why = next((f for f in failures if f), "no value")
        raise ConfigError(f"{name} has no value on any sub-network of this space ({why}); leave it out")
    return scores


def spearman_interval(x: np.ndarray, y: np.ndarray, seed: int = 0, resamples: int = 1000) -> tuple[float, float]:
    """95% percentile bootstrap interval of Spearman's rho over paired resamples of the sub-networks."""
    result = stats.bootstrap((np.asarray(x, float), np.asarray(y, float)),
                             lambda a, b: stats.spearmanr(a, b).statistic, paired=True, vectorized=False,
                             n_resamples=resamples, method="percentile", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def proxy_scores(table: pd.DataFrame, proxies: Iterable[str] = PROXIES,
                 formulas: dict[str, Formula] | None = None, measured: bool = True,
                 probes: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """Each proxy's and formula's scores of the sub-networks of ``table`` (``space.space_table``), and the measured
    dev accuracy (``measured``). A data proxy is read from ``probes`` (``read_probes``): refused where it is not
    stored or has no value at all."""
    from ..proxies import get_proxy
    ids = table["arch_id"].astype(str).tolist()
    context = ProxyContext(benchmark=None, table=table, builder="trained", seed=0)
    out = {name: _probe_scores(name, probes, ids) if get_proxy(name).needs_probe
           else np.asarray(proxy_values(context, name).scores, float) for name in proxies}
    for name, formula in (formulas or {}).items():
        missing = sorted(set(formula.features) - set(table.columns))
        if missing:
            raise ConfigError(f"formula {name} reads {', '.join(missing[:3])}, which a robustness space does not "
                              "have (its columns: the sub-network's weight features); score a formula searched on "
                              "weight features")
        out[name] = np.asarray(formula.evaluate(table), float)
    if measured:
        out[MEASURED] = table["target:dev_accuracy"].to_numpy(float)
    return out


def correlation_table(targets: pd.DataFrame, features: pd.DataFrame, proxies: Iterable[str] = PROXIES,
                      formulas: dict[str, Formula] | None = None, which: Iterable[str] | None = None,
                      seed: int = 0, probes: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (target, proxy): Spearman, its bootstrap interval (``low``, ``high``) and Kendall over the
    sub-networks where both are finite; NaN where either is constant (no ranking to judge). Targets: ``which``, or
    every stored one but the query counts; data proxies read from ``probes``."""
    stored = sorted(targets.proxy.unique())
    names = list(which) if which is not None else [t for t in stored if not t.endswith("_queries")]
    unknown = [t for t in names if t not in stored]
    if unknown:
        raise UnknownNameError("robustness target", unknown[0], stored)
    rows = []
    for target in names:
        table = space_table(features, targets, target)
        y = table["target"].to_numpy(float)
        for name, scores in proxy_scores(table, proxies, formulas, probes=probes).items():
            if name == MEASURED and target == "dev_accuracy":
                continue
            ok = np.isfinite(scores) & np.isfinite(y)
            if ok.sum() < 3 or np.ptp(scores[ok]) == 0 or np.ptp(y[ok]) == 0:
                rows.append({"target": target, "proxy": name, "spearman": np.nan, "low": np.nan, "high": np.nan,
                             "kendall": np.nan})
                continue
            low, high = spearman_interval(scores[ok], y[ok], seed)
            rows.append({"target": target, "proxy": name, "spearman": stats.spearmanr(scores[ok], y[ok]).statistic,
                         "low": low, "high": high,
                         "kendall": stats.kendalltau(scores[ok], y[ok], variant="b").statistic})
    return pd.DataFrame(rows, columns=COLUMNS)


def compare_space(encoder: str, task: str, proxies: list[str] | None = None,
                  formulas: dict[str, Formula] | None = None, targets: list[str] | None = None,
                  root: str | os.PathLike | None = None) -> pd.DataFrame:
    """``correlation_table`` of a stored space (``read_space``), with ``attrs`` naming it and what measured it.
    Default proxies: the weight proxies and, where stored, every data proxy with a value (``read_probes``)."""
    long, features, meta = read_space(encoder, task, root)
    probes = read_probes(encoder, task, meta["adapter"]["weights_sha256"], root)
    chosen = proxies if proxies is not None else [*PROXIES, *probe_names(probes)]
    report = correlation_table(long, features, chosen, formulas, targets, probes=probes)
    report.attrs.update({"space": f"{PREFIX}{encoder}-{task}", "sub_networks": int(long.arch_id.nunique()),
                         "request": meta["request"], "commit": meta.get("commit")})
    return report


__all__ = ["COLUMNS", "MEASURED", "PREFIX", "PROXIES", "compare_space", "correlation_table", "parse_space",
           "probe_names", "probes_path", "proxy_scores", "read_features", "read_probes", "read_space", "space_paths",
           "spearman_interval", "stored_spaces", "values_root"]
