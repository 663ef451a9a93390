"""The Python API: every CLI verb is one of these calls.

``load_benchmark`` -> ``featurize`` -> ``score_proxy`` / ``compare`` for hand-designed and published proxies;
``ProxySearch`` (an estimator in the style of scikit-learn and PySR) for discovery::

    from discover import ProxySearch, load_benchmark
    search = ProxySearch(generations=25, seed=0, output="runs/bert").fit(load_benchmark("nas-bench-bert"))
    print(search.formula_, search.metrics_["heldout"])
    print(search.export("python"))
"""
from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from . import comparison as _compare
from .benchmarks import FAMILIES, Benchmark, family_of_model, load_benchmark
from .benchmarks.flexibert import classification_loss
from .errors import ConfigError, DataError, ZcDiscoverError
from .export import export_run
from .features import featurize as _weight_features
from .formula import Formula
from .limits import DEVICE_NAME
from .metrics import table_quality
from .probe_writer import probe_values
from .pruning import parse_share, prune_model
from .pruning.searched import is_pruning_space, pruning_search_table
from .runs import Run, check_output, load_run
from .scoring import score_table, select_ids
from .search.driver import search_tables
from .search.loop import SearchConfig
from .values import read_values

# a few-step signal's column: steps{k}_<signal> (probing.steps.step_columns)
STEP_FEATURE = re.compile(r"steps(\d+)_")

QUICK = "ZC_DISCOVER_QUICK"


def check_device(device: str) -> str:
    """Check a device name before any work.

    Parameters
    ----------
    device : str
        ``cpu``, ``cuda`` or ``cuda:N``.

    Returns
    -------
    str
        ``device`` unchanged.

    Raises
    ------
    ConfigError
        For another name, or a GPU that is not there (never a silent fallback to the CPU).
    """
    import torch
    if not isinstance(device, str) or not DEVICE_NAME.fullmatch(device):
        raise ConfigError(f"device must be cpu, cuda or cuda:N, got {device!r}")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: no CUDA GPU is available to torch here; use --device cpu.")
        index = int(device[5:]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s).")
    return device


def _benchmark(benchmark: Benchmark | str) -> Benchmark:
    return load_benchmark(benchmark) if isinstance(benchmark, str) else benchmark


def _source_name(source: Benchmark | tuple[str, pd.DataFrame, str]) -> str:
    """The name a search reports a benchmark or a stored pruning space's table under."""
    return source.name if isinstance(source, Benchmark) else source[0]


def featurize(benchmark: Benchmark | str, builder: str | None = None, seed: int = 0, n_jobs: int = -1,
              backend: str = "loky", scheduler: str | None = None, device: str = "cpu", use_cache: bool = True,
              with_activations: bool = False) -> pd.DataFrame:
    """The feature table of a benchmark: one row per architecture, measured on its real model.

    Parameters
    ----------
    benchmark : Benchmark or str
        A loaded benchmark or its name.
    builder : str, optional
        Reading of the configs (default: the family's first, ``as-trained``).
    seed : int
        Initialisation seed.
    n_jobs : int
        Parallel workers (-1: all cores); the table is identical for any value.
    backend, scheduler : ``loky`` (local processes) or ``dask``, and a Dask scheduler address (``dask`` without one
        starts a local cluster). ``with discover.engine(scheduler=...)`` sends every verb's work to a cluster.
    device : str
        ``cpu``, ``cuda`` or ``cuda:N``.
    use_cache : bool
        Read and write the on-disk cache.
    with_activations : bool
        Add data-dependent activation and gradient statistics from a probe batch (``probing.activations``).

    Returns
    -------
    pandas.DataFrame
        ``arch_id``, ``target`` (higher is better), ``n_params``, structure, ``flops`` and ``<agg>_<role>_<stat>``.

    Examples
    --------
    >>> table = featurize("nas-bench-bert", n_jobs=2)       # doctest: +SKIP
    """
    from .parallel import engine
    benchmark = _benchmark(benchmark)
    check_device(device)
    with engine(backend, scheduler, n_jobs):
        table = _weight_features(benchmark, builder, seed, n_jobs, backend, scheduler, device, use_cache)
        if with_activations:
            table = _add_activations(benchmark, table, builder, seed, n_jobs, use_cache, device)
    return table


def _add_activations(benchmark: Benchmark, table: pd.DataFrame, builder: str | None, seed: int, n_jobs: int,
                     use_cache: bool = True, device: str = "cpu") -> pd.DataFrame:
    """``table`` with the activation features of its rows' architectures (read where stored, else probed)."""
    from .proxies.probe_table import activation_table
    extra = activation_table(benchmark, builder, seed, n_jobs=n_jobs, use_cache=use_cache, device=device,
                             ids=table["arch_id"].astype(str).tolist())
    merged = table.merge(extra, on="arch_id", how="left", validate="one_to_one")
    merged.attrs.update(table.attrs)
    merged.attrs["probe_seconds_per_arch"] = extra.attrs.get("probe_seconds_per_arch")
    return merged


def add_steps(benchmark: Benchmark, table: pd.DataFrame, steps: int, builder: str | None = None, seed: int = 0,
              n_jobs: int = 1, settings=None) -> pd.DataFrame:
    """``table`` with the few-step training signals after ``steps`` steps (``steps{k}_*``), on the architectures that
    have them: the stored subset of a shipped space (read, not trained), else every row (trained, and cached).

    Parameters
    ----------
    benchmark : Benchmark
    table : DataFrame
        A feature table of ``benchmark``.
    steps : int
        A step count of the default settings (1, 4, 16, 64), or any count (then every architecture is trained).
    builder, seed, n_jobs : see ``featurize``.
    settings : StepSettings, optional
        Other settings than the default ones (``per_layer``, ``data_after``, batch, ...); their step count is
        ``steps``.

    Returns
    -------
    pandas.DataFrame
        The rows that have step values; ``attrs["steps_seconds_per_arch"]`` is what reaching them cost.
    """
    from .probing.step_values import request, request_difference, step_table, stored_ids, stored_path
    from .probing.steps import StepSettings
    from .values import provenance
    # a stored file answers every step count it recorded
    settings = replace(settings or StepSettings(), steps=(steps,)).validate()
    path = stored_path(benchmark.name, benchmark.family.builder(builder))
    if path.is_file():   # stored values of other settings: refused, never replaced by hours of training unasked
        differs = request_difference(provenance(path), request(benchmark, benchmark.family.builder(builder), seed,
                                                               settings))
        if differs is not None:
            raise DataError(f"the stored few-step values of {benchmark.name} ({path.name}) do not answer "
                            f"--with-steps {steps}: {differs}; ask for a step count they hold, or train these "
                            "settings with experiments/step_values.py")
    ids = stored_ids(benchmark, benchmark.family.builder(builder), seed, settings)
    ids = [i for i in table["arch_id"].astype(str) if ids is None or i in set(ids)]
    extra = step_table(benchmark, ids, settings, builder, seed, n_jobs)
    keep = ["arch_id"] + [c for c in extra.columns if c.startswith(f"steps{steps}_") and c != f"steps{steps}_seconds"]
    merged = table.merge(extra[keep], on="arch_id", how="inner", validate="one_to_one")
    merged.attrs.update(table.attrs)
    merged.attrs["steps_seconds_per_arch"] = float(extra[f"steps{steps}_seconds"].mean())
    return merged


def search_table(benchmark: Benchmark, builder: str | None = None, seed: int = 0, n_jobs: int = -1,
                 device: str = "cpu", with_activations: bool = False, with_steps: int | None = None,
                 step_settings=None) -> pd.DataFrame:
    """The table a search reads: the weight features, with the activation features and the few-step signals after
    ``with_steps`` steps where asked (``featurize``, ``add_steps``).

    Parameters
    ----------
    benchmark : Benchmark
    builder, seed, n_jobs, device, with_activations : see ``featurize``.
    with_steps : int, optional
        A step count (``add_steps``): then only the architectures that have step values are rows.
    step_settings : StepSettings, optional
        Other few-step settings than the default ones (``add_steps``), such as ``StepSettings(per_layer=True,
        data_after=True)``: the gradient profile through depth and the data statistics after the steps too.

    Returns
    -------
    pandas.DataFrame
    """
    table = featurize(benchmark, builder, seed, n_jobs, device=device, with_activations=with_activations)
    if with_steps is not None:
        table = add_steps(benchmark, table, with_steps, builder, seed, n_jobs, step_settings)
    return table


def formula_columns() -> list[str]:
    """Every column a formula may read: the weight features and the data-dependent activation features."""
    from .features import formula_features, table_columns
    from .probing.activations import activation_feature_names
    from .probing.steps import STEP_COUNTS, step_columns
    return formula_features(table_columns()) + activation_feature_names() + step_columns(STEP_COUNTS, True, True)


def reads_steps(formula: Formula | None) -> int | None:
    """The step count whose few-step signals a formula reads (``steps{k}_*``), or None; a formula of a search runs
    with one ``--with-steps`` count, so it reads at most one (two are refused: no table holds both)."""
    if formula is None:
        return None
    counts = sorted({int(m.group(1)) for m in map(STEP_FEATURE.match, formula.features) if m})
    if len(counts) > 1:
        raise ConfigError(f"the formula reads the few-step signals after {counts} steps; one step count a formula "
                          "(a search reads one: --with-steps K)")
    return counts[0] if counts else None


def reads_step_settings(formula: Formula):
    """The few-step settings whose columns a formula reads: the default ones, with the per-layer gradients and the
    data statistics after the steps where it reads them (``probing.steps.settings_for_columns``)."""
    from .probing.steps import StepSettings, settings_for_columns
    return StepSettings(**settings_for_columns(formula.features))


def reads_activations(formula: Formula | None) -> bool:
    """Whether a formula reads an activation feature (scoring it then probes the architectures it is scored on)."""
    from .probing.activations import activation_feature_names
    return formula is not None and bool(set(formula.features) & set(activation_feature_names()))


def check_proxy_or_formula(proxy: str | None, formula: str | Formula | None,
                           columns: Iterable[str] | None = None) -> Formula | None:
    """Refuse a misspelled proxy or a bad formula before any slow work; return the parsed formula (if any).

    Parameters
    ----------
    proxy, formula : exactly one of a registered proxy name (or ``run:RUN_DIR``) and a formula.
    columns : iterable of str, optional
        The columns a formula may read (default: ``formula_columns()``, weight and activation features).

    Returns
    -------
    Formula or None

    Raises
    ------
    ConfigError, UnknownNameError, FormulaError
    """
    from .features import formula_features
    from .proxies import get_proxy
    if (proxy is None) == (formula is None):
        raise ConfigError("give exactly one of proxy= or formula=")
    if formula is None:
        if proxy.startswith("run:"):
            load_run(proxy[4:])   # a missing or refused run folder fails here, before any featurizing
        else:
            get_proxy(proxy)
        return None
    if isinstance(formula, Formula):
        return formula
    return Formula.from_string(formula, formula_features(columns) if columns is not None else formula_columns())


def _reads_counts_only(proxy: str | None, formula: Formula | None) -> bool:
    """Whether a proxy or formula reads nothing but parameter counts and FLOPs (``features.structure_columns``)."""
    from .features import structure_columns
    if formula is not None:
        return set(formula.features) <= set(structure_columns())
    from .proxies import get_proxy
    return proxy is not None and not proxy.startswith("run:") and get_proxy(proxy).counts_only


def score_proxy(benchmark: Benchmark | str, proxy: str | None = None, formula: str | Formula | None = None, *,
                ids: list[str] | None = None, builder: str | None = None, seed: int = 0, n_jobs: int = -1,
                options: dict | None = None, table: pd.DataFrame | None = None) -> dict[str, Any]:
    """Rank quality of one proxy on a benchmark (or on the architectures ``ids``).

    Parameters
    ----------
    benchmark : Benchmark or str
    proxy : str, optional
        A registered proxy (``zc-discover proxies`` lists them) or ``run:RUN_DIR``.
    formula : str or Formula, optional
        An expression over feature names (exactly one of ``proxy`` and ``formula``).
    ids : list of str, optional
        Evaluate on these architectures only.
    builder, seed, n_jobs, options, table : see ``featurize`` and ``compare``.

    Returns
    -------
    dict
        ``benchmark``, ``proxy``, ``n``, ``spearman``, ``kendall``, ``kendall_iso_params``, ``top10_precision``,
        ``reason`` (why the correlations are NaN, else None) and ``info`` (e.g. ZeroLM's alpha).

    Examples
    --------
    >>> score_proxy("nas-bench-bert", "zerolm")["kendall"]      # doctest: +SKIP
    """
    benchmark = _benchmark(benchmark)
    formula = check_proxy_or_formula(proxy, formula, table.columns if table is not None else None)
    options = dict(options or {})
    options.setdefault("n_jobs", n_jobs)
    device = options.get("device", "cpu")
    check_device(device)
    reads = formula if formula is not None else load_run(proxy[4:]).formula if proxy.startswith("run:") else None
    if table is None and _reads_counts_only(proxy, reads):   # the size baselines: the models' shapes, no SVD
        from .features import structure_table
        table = select_ids(structure_table(benchmark, builder, seed, n_jobs), ids, benchmark.name)
    elif table is None:
        table = select_ids(featurize(benchmark, builder, seed, n_jobs, device=device), ids, benchmark.name)
        if reads_activations(reads):   # probes only the architectures scored, for the features the formula reads
            table = _add_activations(benchmark, table, builder, seed, n_jobs, device=device)
        step_count = reads_steps(reads)
        if step_count is not None:   # the rows with step values (a shipped space's stored subset)
            table = add_steps(benchmark, table, step_count, builder, seed, n_jobs, reads_step_settings(reads))
    else:
        table = select_ids(table, ids, benchmark.name)
    return score_table(benchmark, table, proxy, formula, builder, seed, options)


def compare_pruning(space: str, methods: list[str] | None = None, *, runs: list[Run | str] | None = None,
                    root: str | Path | None = None) -> pd.DataFrame:
    """Every pruning criterion, weight proxy and discovered formula side by side on a stored pruning space of a
    trained reference model (``pruning:MODEL-KIND``, as ``zc-discover benchmarks`` lists them), from the stored
    values alone: no model, no text.

    Parameters
    ----------
    space : str
        ``pruning:llama-8-depth`` (or ``llama-8-depth``).
    methods : list of str, optional
        Criteria and weight proxies (default: every one that applies to the space's kind).
    runs : list of Run or str, optional
        Discovered proxies (loaded runs or their folders), scored on the sub-networks' columns they read.
    root : path, optional
        Where the stored spaces are (default ``data/values/pruning``).

    Returns
    -------
    pandas.DataFrame
        One row per method: its kind, cost (passes over the calibration batch), whether it is zero-cost, and
        Kendall within equal-size candidates, Kendall and Spearman over all (``pruning.compare.compare_space``).

    Examples
    --------
    >>> compare_pruning("pruning:llama-8-depth", ["sleb", "magnitude"])[["method", "kendall_equal_size"]]  # doctest: +SKIP
    """
    from .pruning.compare import compare_space, locate_space
    model, kind, folder = locate_space(space, root)
    loaded = [load_run(r) if not isinstance(r, Run) else r for r in runs or []]
    formulas = {f"run:{r.path}": r.formula for r in loaded}
    return compare_space(model, kind, methods, formulas, folder)


def measure_pruning_space(model: str | Path, kind: str, out: str | Path, *, limit: int | None = None,
                          seed: int = 0) -> dict[str, Any]:
    """Measure one pruning space of a trained model - every candidate sub-network's held-out and calibration loss
    and weight features, and the units' calibration statistics - and store it in the folder ``out``, where
    ``compare_pruning``, ``ProxySearch.fit`` and the verbs read it as ``pruning:OUT/NAME-KIND``.

    Parameters
    ----------
    model : str or path
        A reference model's name, or a folder of your own trained Hugging Face causal LM (``config.json``,
        ``model.safetensors`` and its ``tokenizer.json``), as ``prune_model`` takes it.
    kind : {"depth", "heads", "ffn", "mixed"}
    out : path
        The folder the space's three files go to (``NAME-KIND.csv.gz``, ``NAME-KIND-units.csv.gz``,
        ``NAME-KIND.json``; NAME: the card's name, else the model folder's).
    limit : int, optional
        Candidates measured (default as the shipped spaces: 300 depth, 100 heads or ffn, 200 mixed; a seeded
        sample where the space has more).
    seed : int
        Seed of that sample.

    Returns
    -------
    dict
        The space's provenance (its ``request``: model, weights' and tokenizer's sha256, windows, ...; candidate
        count; seconds), and ``name``: what the verbs call it.

    Examples
    --------
    >>> measure_pruning_space("path/to/model", "depth", "spaces")["name"]   # doctest: +SKIP
    'pruning:spaces/model-depth'
    """
    from .pruning.ship import resolve_model
    from .pruning.space_values import compute_space
    folder = resolve_model(model)
    _, _, provenance = compute_space(folder, kind, limit=limit, seed=seed, out=out, progress=False)
    request = provenance["request"]
    return {**provenance, "name": f"pruning:{Path(out) / request['model']}-{request['kind']}"}


def compare_robustness(space: str, proxies: list[str] | None = None, *, targets: list[str] | None = None,
                       runs: list[Run | str] | None = None, root: str | Path | None = None) -> pd.DataFrame:
    """Zero-cost proxies and discovered formulas against the robustness targets of a stored LoNAS space
    (``lonas:ENCODER-TASK``, as ``zc-discover benchmarks`` lists them): how well each ranks a task's sub-networks by
    clean accuracy and by accuracy, success rate and perturbed fraction under each attack, from the stored values
    alone (no model, no text).

    Parameters
    ----------
    space : str
        ``lonas:roformer-6-sentence_polarity`` (or without the prefix).
    proxies : list of str, optional
        Weight proxies and, where the space stores them, data proxies (default: zerolm, nsc, params,
        params_attention, params_ffn, flops, and every stored data proxy with a value: synflow, snip, grasp,
        fisher, naswot, jacob_cov, ...). The sub-network's measured dev accuracy is always added as a reference
        (not zero-cost).
    targets : list of str, optional
        Targets to report (default: every stored one but the query counts).
    runs : list of Run or str, optional
        Discovered proxies (loaded runs or their folders), scored on the sub-networks' weight features.
    root : path, optional
        Where the stored spaces are (default ``data/values/robustness``).

    Returns
    -------
    pandas.DataFrame
        One row per (target, proxy): ``spearman`` with its 95% bootstrap interval (``low``, ``high``) and
        ``kendall`` (``robustness.compare.correlation_table``).

    Examples
    --------
    >>> compare_robustness("lonas:roformer-6-sentence_polarity", ["zerolm"], targets=["bae_attacked_accuracy"])  # doctest: +SKIP
    """
    from .robustness.compare import compare_space, parse_space
    encoder, task = parse_space(space, root)
    loaded = [load_run(r) if not isinstance(r, Run) else r for r in runs or []]
    return compare_space(encoder, task, proxies, {f"run:{r.path}": r.formula for r in loaded}, targets, root)


def compare(benchmark: Benchmark | str, proxies: list[str] | None = None, *, builder: str | None = None,
            seed: int = 0, n_jobs: int = -1, options: dict | None = None, runs: list[Run | str] | None = None,
            ids: list[str] | None = None, table: pd.DataFrame | None = None,
            values: pd.DataFrame | list[str | Path] | None = None) -> pd.DataFrame:
    """Many proxies side by side on one benchmark, under the same metrics.

    Parameters
    ----------
    benchmark : Benchmark or str
    proxies : list of str, optional
        Registered proxies or ``run:RUN_DIR`` (default: every registered proxy).
    builder, seed, n_jobs : see ``featurize``.
    options : dict, optional
        ``batch`` / ``seq`` of the probe batch, ``retry_failed``, ``device``, ``alpha`` (ZeroLM).
    runs : list of Run or str, optional
        Discovered proxies (loaded runs or their folders) to add.
    ids : list of str, optional
        Only these architectures; data-dependent proxies probe only these.
    table : DataFrame, optional
        The feature table, if already computed.
    values : DataFrame or list of paths, optional
        Per-architecture values computed before (``values.csv`` of ``compare -o``, or
        ``zc-discover probe``'s files, e.g. probed on a GPU): the data-dependent proxies they hold are read
        from them instead of probed. Files computed on another benchmark or builder are refused (a DataFrame is
        taken as it is; files are checked by ``read_compared_values``: benchmark, builder, seed, probe settings and
        proxy versions must match).

    Returns
    -------
    pandas.DataFrame
        One row per proxy; ``attrs`` holds the per-architecture values (``compare.write_report`` writes them).
    """
    benchmark = _benchmark(benchmark)
    loaded = [load_run(r) if isinstance(r, (str, Path)) else r for r in (runs or [])]
    check_device((options or {}).get("device", "cpu"))
    if values is not None and not isinstance(values, pd.DataFrame):
        values = read_compared_values(values, benchmark, builder, seed, options)
    return _compare.compare(benchmark, proxies, builder, seed, n_jobs, table, options, loaded, ids, values)


def read_compared_values(paths: list[str | Path], benchmark: Benchmark, builder: str | None = None, seed: int = 0,
                         options: dict | None = None) -> pd.DataFrame:
    """Values files checked against a comparison: benchmark, builder, seed, probe settings and every proxy's version
    must be the request's (``values.read_values``), else one error saying what differs.

    Parameters
    ----------
    paths : list of str or Path
        Values files, each with its provenance JSON beside it.
    benchmark : Benchmark
    builder, seed : the models' reading and initialisation.
    options : dict, optional
        ``settings`` (a ``ProbeSettings``) or ``batch`` / ``seq``: the probe the values must come from.

    Returns
    -------
    pandas.DataFrame
        The long values.
    """
    from .probing import ProbeSettings
    from .proxies import PROXIES
    options = options or {}
    settings = options.get("settings") or ProbeSettings()
    settings = replace(settings, batch=options.get("batch") or settings.batch, seq=options.get("seq") or settings.seq)
    expected = {"benchmark": benchmark.name, "builder": benchmark.family.builder(builder), "seed": int(seed),
                "probe": settings.describe()}
    return read_values(paths, expected, {name: proxy.version for name, proxy in PROXIES.items()})


def _probe_family(model, vocab_size: int | None):
    """The family that probes ``model``: its own, or for a model of no benchmark family (Hugging Face style: called on
    token ids, returning hidden states or an object with ``last_hidden_state``; ``get_input_embeddings()``) the
    FlexiBERT task on its output. ``vocab_size`` overrides the family's."""
    family = family_of_model(model)
    if family is None:
        if vocab_size is None or not hasattr(model, "get_input_embeddings"):
            raise ConfigError("data-dependent proxies on a model of no benchmark family need vocab_size= and a model "
                              "with get_input_embeddings() (Hugging Face style)")
        flexibert = FAMILIES["flexibert"]

        def task_loss(model, ids, labels, seed):
            output = model(ids)
            hidden = getattr(output, "last_hidden_state", output)
            return hidden, classification_loss(hidden, labels, seed)

        family = replace(flexibert, name="generic", task_loss=task_loss,
                         input_embedding=lambda m: m.get_input_embeddings(),
                         probe_seq=lambda config, requested: requested or flexibert.probe_shape[1])
    if vocab_size is not None:
        family = replace(family, vocab_size=lambda config: vocab_size)
    return family


def score_model(model, proxy: str | None = None, formula: str | Formula | None = None, *, alpha: float | None = None,
                vocab_size: int | None = None, batch: int | None = None, seq: int | None = None,
                seed: int = 0) -> float:
    """One proxy's score of one torch model - any model the decomposition understands, not only benchmark
    architectures.

    Parameters
    ----------
    model : torch.nn.Module
        A model built by a benchmark family, or another one whose parameters ``primitives.decompose`` can place
        (Hugging Face style BERT/GPT-2 names included).
    proxy : str, optional
        A registered proxy: weight-only ones from the model's features (``zerolm`` needs ``alpha``: there are no
        labels to fit it on), data-dependent ones from one probe of the model.
    formula : str or Formula, optional
        An expression over feature names (exactly one of ``proxy`` and ``formula``).
    alpha : float, optional
        ZeroLM's balance.
    vocab_size, batch, seq, seed : the probe batch (``vocab_size`` only for models of no benchmark family).

    Returns
    -------
    float
        The score (higher predicts better), NaN when the formula is undefined for this model.

    Raises
    ------
    ZcDiscoverError
        For a proxy that cannot be computed for a single model (``nsc_mp`` needs a benchmark), or that failed.
    """
    import numpy as np
    from .features import featurize_model
    from .proxies import ProxyContext, get_proxy
    if (proxy is None) == (formula is None):
        raise ConfigError("give exactly one of proxy= or formula=")
    features = featurize_model(model)
    if formula is not None:
        parsed = formula if isinstance(formula, Formula) else Formula.from_string(formula, formula_columns())
        if reads_activations(parsed):   # one probe of the model, for the activation features the formula reads
            from .probing import ProbeSettings
            from .probing.activations import ACTIVATION_PASSES, activation_features
            family = _probe_family(model, vocab_size)
            config = getattr(model, "config", None) if family.model_class else None
            run = ProbeSettings(batch, seq).probe(model, family, config or {}, seed, passes=ACTIVATION_PASSES)
            features.update(activation_features(run))
        return float(parsed.evaluate(pd.DataFrame([{"arch_id": "model", "target": 0.0, **features}]))[0])
    row = pd.DataFrame([{"arch_id": "model", "target": 0.0, **features}])
    spec = get_proxy(proxy)
    if not spec.needs_probe:
        if "shapes" in spec.needs:
            raise ZcDiscoverError(f"{proxy} is computed from a benchmark's architectures; score the model with "
                                  "'nsc' (its measured counterpart) instead")
        if "labels" in spec.needs and alpha is None:
            raise ConfigError(f"{proxy} fits its alpha on labelled architectures; give alpha= for a single model")
        ctx = ProxyContext(None, row, "as-trained", seed, {"alpha": alpha} if alpha is not None else {})
        return float(np.asarray(spec.function(ctx).scores, dtype=float)[0])
    from .probing import ProbeSettings
    family = _probe_family(model, vocab_size)
    config = getattr(model, "config", None) if family.model_class else None
    probe = ProbeSettings(batch, seq).probe(model, family, config or {}, seed)
    try:
        value = float(spec.function(probe))
    except Exception as exc:  # the proxy's own failure (e.g. no attention heads recorded) becomes one clear error
        raise ZcDiscoverError(f"{proxy} failed on this model: {type(exc).__name__}: {exc}") from None
    return value


class ProxySearch:
    """Discover a zero-cost proxy formula by genetic programming: an estimator in the style of scikit-learn and PySR.

    Every argument is stored unchanged under its own name, so ``get_params``, ``set_params`` and scikit-learn's
    ``clone`` and grid searches work; the work happens in ``fit``; what it learns ends in ``_`` and reading it before
    ``fit`` raises ``NotFittedError``.

    Parameters
    ----------
    population, generations : int
        GP population size and number of generations (defaults 200 and 25; at most 100,000 and 10,000).
    folds : int
        Cross-validation folds for the held-out estimate (1: none, only the final search).
    fitness : {"spearman", "kendall", "iso", "partial"}
        What the search maximises on the training architectures: rank correlation with quality, or a size-controlled
        one (``iso``: Kendall over pairs within 10% non-embedding size; ``partial``: Spearman given log size).
    aggregate : {"min", "mean"}
        How several benchmarks' correlations combine into one fitness.
    seed : int
        Same seed, same formula and metrics, whatever ``jobs``. It seeds the models' initialisation too, unless
        ``init_seed`` is given.
    init_seed : int, optional
        The models' initialisation seed, when it should differ from the search's (several search seeds over the
        same models, whose probed values are stored for seed 0).
    jobs : int
        Parallel workers (-1: every core; as the command line's ``--jobs``).
    device : str
        Where features are measured (``cpu``, ``cuda``).
    output : str or Path, optional
        The run folder (default: a temporary folder under ``runs/``).
    builder : str, optional
        Reading of FlexiBERT configs (other families have one).
    transfer : sequence, optional
        Benchmarks never searched on, to report the final formula on.
    train_ids : list of str, optional
        Train on these architectures of the single benchmark, report on the rest (instead of folds).
    resume, force : bool
        Continue an interrupted run folder / overwrite an existing one.
    with_activations : bool
        Let the search use the data-dependent activation features too (read from the stored values where they match).
    with_steps : int, optional
        Let the search use the few-step training signals after this many steps too (``probing.steps``: 1, 4, 16 or
        64 of the stored values), on the architectures that have them (the stored subset of a shipped space; every
        architecture is trained where none are stored).
    step_details : bool
        With ``with_steps``: also each role's gradient norm and noise through depth and the data probe's statistics
        of the model after the steps (``StepSettings(per_layer=True, data_after=True)``; stored for the shipped
        spaces' subsets).
    progress : bool
        Log each generation.
    max_height, max_size, crossover, mutation, validation_fraction, delta, tie_tolerance, operators :
        The GP's settings (``search.loop.SearchConfig``).

    Attributes
    ----------
    formula_ : Formula
        The chosen formula (``.latex()``, ``.sympy()``, ``.to_python()``, ``.evaluate(table)``).
    equations_ : pandas.DataFrame
        The best formula at each complexity: complexity, train, validation, formula.
    metrics_ : dict
        Held-out metrics per benchmark (mean and sd over folds), per fold, transfer, ties.
    run_ : Run
        The run folder.

    Examples
    --------
    >>> search = ProxySearch(generations=5, output="runs/demo").fit("nas-bench-bert")    # doctest: +SKIP
    >>> search.formula_, search.metrics_["heldout"]["nas-bench-bert"]["kendall"]          # doctest: +SKIP
    >>> search.predict("lts-gpt2-wt103")                                                 # doctest: +SKIP
    """

    def __init__(self, *, population: int = 200, generations: int = 25, folds: int = 5, fitness: str = "spearman",
                 aggregate: str = "min", seed: int = 0, init_seed: int | None = None, jobs: int = -1,
                 device: str = "cpu", output: str | Path | None = None, builder: str | None = None,
                 transfer: Iterable = (), train_ids: list[str] | None = None, resume: bool = False,
                 force: bool = False, with_activations: bool = False, with_steps: int | None = None,
                 step_details: bool = False, progress: bool = False,
                 max_height: int = SearchConfig.max_height, max_size: int = SearchConfig.max_size,
                 crossover: float = SearchConfig.crossover, mutation: float = SearchConfig.mutation,
                 validation_fraction: float = SearchConfig.validation_fraction, delta: float = SearchConfig.delta,
                 tie_tolerance: float = SearchConfig.tie_tolerance,
                 operators: Iterable[str] = SearchConfig.operators, **unknown: Any):
        if unknown:
            from .errors import UnknownNameError
            raise UnknownNameError("ProxySearch option", sorted(unknown)[0], self._param_names())
        self.population, self.generations, self.folds, self.fitness = population, generations, folds, fitness
        self.aggregate, self.seed, self.init_seed, self.jobs = aggregate, seed, init_seed, jobs
        self.device, self.output, self.builder, self.transfer = device, output, builder, transfer
        self.train_ids, self.resume, self.force = train_ids, resume, force
        self.with_activations, self.with_steps, self.progress = with_activations, with_steps, progress
        self.step_details = step_details
        self.max_height, self.max_size, self.crossover, self.mutation = max_height, max_size, crossover, mutation
        self.validation_fraction, self.delta, self.tie_tolerance = validation_fraction, delta, tie_tolerance
        self.operators = operators

    @classmethod
    def _param_names(cls) -> list[str]:
        import inspect
        return [p.name for p in inspect.signature(cls.__init__).parameters.values()
                if p.kind == p.KEYWORD_ONLY]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Every constructor argument by name (scikit-learn's estimator protocol).

        Parameters
        ----------
        deep : bool
            Unused (no argument is itself an estimator); kept for scikit-learn.

        Returns
        -------
        dict
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "ProxySearch":
        """Set constructor arguments by name (scikit-learn's estimator protocol); an unknown name is refused with the
        closest ones.

        Returns
        -------
        ProxySearch
            self.
        """
        names = self._param_names()
        for name, value in params.items():
            if name not in names:
                from .errors import UnknownNameError
                raise UnknownNameError("ProxySearch option", name, names)
            setattr(self, name, value)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        """Whether ``fit`` (or ``load``) has run: scikit-learn's ``check_is_fitted`` asks this."""
        return "formula_" in self.__dict__

    def __sklearn_tags__(self):
        """scikit-learn's description of this estimator (read by ``check_is_fitted``, ``clone`` and the estimator
        checks): it is fitted on benchmarks (names or ``Benchmark`` objects), not on arrays, needs no ``y`` (the
        targets are the benchmarks' own) and gives one score per architecture. Needs scikit-learn, which is only
        imported here."""
        from sklearn.utils import InputTags, Tags, TargetTags
        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    input_tags=InputTags(two_d_array=False, string=True), requires_fit=True, non_deterministic=False)

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            self.formula_   # raises NotFittedError, with how to fit

    def __getattr__(self, name: str):
        if name.endswith("_") and not name.startswith("_"):
            from .errors import NotFittedError
            raise NotFittedError(f"this ProxySearch has not been fitted, so it has no {name}: call fit(benchmarks) "
                                 "first, or ProxySearch.load(RUN_DIR)")
        raise AttributeError(name)

    def config(self) -> SearchConfig:
        """The ``SearchConfig`` these options describe (validated). With ``ZC_DISCOVER_QUICK=1`` in the environment
        every search is capped at population 30 and 3 generations: a smoke test of a script (the test suite runs the
        documentation's examples so), never a result."""
        population, generations = self.population, self.generations
        if os.environ.get(QUICK, "").strip() in ("1", "true", "yes"):
            population, generations = min(population, 30), min(generations, 3)
        return SearchConfig(population=population, generations=generations, fitness=self.fitness,
                            aggregate=self.aggregate, seed=self.seed, max_height=self.max_height,
                            max_size=self.max_size, crossover=self.crossover, mutation=self.mutation,
                            validation_fraction=self.validation_fraction, delta=self.delta,
                            tie_tolerance=self.tie_tolerance, operators=tuple(self.operators)).validate()

    def _table(self, benchmark: Benchmark, with_activations: bool | None = None, with_steps: int | None = None,
               step_settings=None) -> pd.DataFrame:
        """The table of ``benchmark`` for these options (the search's own where an argument is None; 0 steps:
        none)."""
        from .probing.steps import StepSettings
        builder = self.builder if self.builder in benchmark.family.builders else None
        details = bool(self.step_details)
        return search_table(benchmark, builder, self.model_seed, self.jobs, self.device,
                            self.with_activations if with_activations is None else with_activations,
                            self.with_steps if with_steps is None else with_steps or None,
                            step_settings or StepSettings(per_layer=details, data_after=details))

    @property
    def model_seed(self) -> int:
        """The models' initialisation seed: ``init_seed``, else ``seed``."""
        return self.seed if self.init_seed is None else self.init_seed

    def check(self) -> SearchConfig:
        """Check the options, the device and the output folder before any slow work; the ``SearchConfig``."""
        config = self.config()
        check_device(self.device)
        from .limits import MAX_SEED
        if self.init_seed is not None and (isinstance(self.init_seed, bool) or not isinstance(self.init_seed, int)
                                           or not 0 <= self.init_seed <= MAX_SEED):
            raise ConfigError(f"init_seed must be an integer from 0 to {MAX_SEED:,} (or None), got {self.init_seed!r}")
        if self.with_steps is not None:
            from .probing.steps import StepSettings
            if isinstance(self.with_steps, bool) or not isinstance(self.with_steps, int):
                raise ConfigError(f"with_steps must be a step count (1, 4, 16, 64), got {self.with_steps!r}")
            StepSettings(steps=(self.with_steps,)).validate()
        if not isinstance(self.step_details, bool):
            raise ConfigError(f"step_details must be True or False, got {self.step_details!r}")
        if self.step_details and self.with_steps is None:
            raise ConfigError("step_details adds to the few-step signals: give with_steps (--with-steps K) too")
        if self.output is not None:
            check_output(Path(self.output), self.resume, self.force)
        return config

    def fit(self, benchmarks: Benchmark | str | Iterable[Benchmark | str]) -> "ProxySearch":
        """Search one formula over ``benchmarks`` (one or several), write the run folder, and return self.

        Parameters
        ----------
        benchmarks : Benchmark, str, or a sequence of them
            Several: one formula for all, their correlations combined by ``aggregate``. A stored pruning space's
            name (``pruning:llama-8-depth``) searches its sub-networks' table (``pruning.searched``; with
            ``with_activations``, the removed units' calibration statistics too); ``transfer`` takes them as well.

        Returns
        -------
        ProxySearch
            self, fitted.
        """
        config = self.check()
        if isinstance(benchmarks, (Benchmark, str)):
            benchmarks = [benchmarks]
        sources = [self._source(b) for b in benchmarks]
        if not sources:
            raise ConfigError("fit needs at least one benchmark")
        names = [_source_name(b) for b in sources]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"{', '.join(twice)} is given more than once; a multi-space search takes each space once")
        output, force = self.output, self.force
        if output is None:   # a fresh folder of its own (the argument itself stays as given)
            import tempfile
            Path("runs").mkdir(exist_ok=True)
            output, force = tempfile.mkdtemp(prefix="search-", dir="runs"), True
        transfer = [self._source(t) for t in self.transfer]
        same = sorted({_source_name(t) for t in transfer} & set(names))
        if same:
            raise ConfigError(f"--transfer {', '.join(same)}: the search is run on it, so its figure would be "
                              "in-sample, not transfer; its held-out figure is the folds' (leave it out of --transfer)")
        families = [b.family for b in sources if isinstance(b, Benchmark)]
        if self.builder is not None and not any(self.builder in f.builders for f in families):
            from .errors import UnknownNameError
            raise UnknownNameError("builder", str(self.builder), sorted({x for f in families for x in f.builders}))
        if self.train_ids is None and not self.resume:   # before any model is measured
            from .search.plan import check_folds
            for b in sources:
                check_folds(_source_name(b), len(b) if isinstance(b, Benchmark) else len(b[1]), self.folds)
        tables = {_source_name(b): self._source_table(b) for b in sources}
        transfer = {_source_name(b): self._source_table(b) for b in transfer}
        builder = self.builder if any(self.builder in f.builders for f in families) else None
        checksums = {_source_name(b): b.checksum if isinstance(b, Benchmark) else b[2] for b in sources}
        run = search_tables(tables, output, config, self.folds, self.train_ids, transfer, self.jobs,
                            self.resume, force, self.progress, checksums, builder, self.model_seed,
                            self.with_activations, self.with_steps, self.step_details)
        self._set(run)
        return self

    def _source(self, item: Benchmark | str) -> Benchmark | tuple[str, pd.DataFrame, str]:
        """A benchmark, or for ``pruning:MODEL-KIND`` the stored pruning space's (name, search table, digest):
        ``with_activations`` adds the removed units' calibration statistics (activations of real text) there."""
        if not is_pruning_space(item):
            return _benchmark(item)
        if self.with_steps is not None:
            raise ConfigError(f"{item}: a stored pruning space has no few-step training signals; leave with_steps "
                              "(--with-steps) out")
        return pruning_search_table(item, with_calibration=bool(self.with_activations))

    def _source_table(self, source: Benchmark | tuple[str, pd.DataFrame, str]) -> pd.DataFrame:
        return self._table(source) if isinstance(source, Benchmark) else source[1]

    def _set(self, run: Run) -> None:
        self.run_, self.formula_, self.metrics_, self.equations_ = run, run.formula, run.metrics, run.equations

    def _scored_table(self, benchmark: Benchmark | str, ids: list[str] | None) -> tuple[str, pd.DataFrame]:
        if is_pruning_space(benchmark):   # every column a pruning formula may read, calibration statistics included
            name, table, _ = pruning_search_table(benchmark, with_calibration=True)
            return name, select_ids(table, ids, name)
        benchmark = _benchmark(benchmark)
        step_count = reads_steps(self.formula_)   # the step columns it reads, not necessarily the search's
        table = select_ids(self._table(benchmark, with_activations=False, with_steps=step_count or 0,
                                       step_settings=reads_step_settings(self.formula_)), ids, benchmark.name)
        if reads_activations(self.formula_):
            builder = self.builder if self.builder in benchmark.family.builders else None
            table = _add_activations(benchmark, table, builder, self.model_seed, self.jobs, device=self.device)
        return benchmark.name, table

    def predict(self, benchmark: Benchmark | str, ids: list[str] | None = None) -> np.ndarray:
        """The discovered formula's score of every architecture of ``benchmark`` (or of ``ids``), in order.

        Parameters
        ----------
        benchmark : Benchmark or str
        ids : list of str, optional

        Returns
        -------
        numpy.ndarray
            One score per architecture (higher predicts better; NaN where the formula is undefined).
        """
        self._check_fitted()   # before the benchmark is loaded
        _, table = self._scored_table(benchmark, ids)
        return np.asarray(self.formula_.evaluate(table), dtype=float)

    def score(self, benchmark: Benchmark | str, ids: list[str] | None = None) -> dict[str, Any]:
        """Rank quality of the discovered formula on ``benchmark`` (e.g. a space it never searched).

        Parameters
        ----------
        benchmark : Benchmark or str
        ids : list of str, optional

        Returns
        -------
        dict
            As ``score_proxy``: Spearman, Kendall, size-matched Kendall, partial Spearman, ... and ``reason``.
        """
        self._check_fitted()
        name, table = self._scored_table(benchmark, ids)
        values, reason = self.formula_.evaluate_with_reason(table)
        quality = table_quality(values, table).as_dict()
        return {"benchmark": name, "proxy": str(self.formula_), **quality,
                "reason": quality["reason"] or reason}

    def export(self, fmt: str = "python") -> str:
        """The chosen formula as ``python`` (a standalone module), ``latex``, ``sympy`` or ``json``.

        Parameters
        ----------
        fmt : str

        Returns
        -------
        str
        """
        self._check_fitted()
        return export_run(self.formula_, self.metrics_, self.run_.config, fmt)

    @classmethod
    def load(cls, run_dir: str | Path) -> "ProxySearch":
        """A fitted ``ProxySearch`` from a run folder, its options as the run recorded them.

        Parameters
        ----------
        run_dir : str or Path

        Returns
        -------
        ProxySearch
        """
        run = load_run(run_dir)
        arguments = run.config.get("arguments", {})
        known = set(cls._param_names())
        options = {k: v for k, v in arguments.items() if k in known and k not in ("output", "resume", "force")}
        options.setdefault("transfer", ())
        search = cls(**{**options, "output": run.path})
        search._set(run)
        return search

    def __repr__(self) -> str:
        state = f", formula={str(self.formula_)!r}" if "formula_" in self.__dict__ else ""
        return (f"ProxySearch(population={self.population}, generations={self.generations}, folds={self.folds}, "
                f"seed={self.seed}, output={str(self.output)!r}{state})")


__all__ = ["DEVICE_NAME", "ProxySearch", "add_steps", "check_device", "compare", "compare_pruning",
           "measure_pruning_space",
           "compare_robustness", "featurize", "load_benchmark",
           "load_run", "search_table",
           "check_proxy_or_formula", "formula_columns", "parse_share", "probe_values", "prune_model",
           "read_compared_values", "reads_activations", "reads_steps", "score_model", "score_proxy"]
