"""The catalog: every benchmark family and every published benchmark, by name, in one table each.

Adding a family: write one module that defines a ``BenchmarkFamily`` (see ``base``; ``lts_txl`` is a complete
example) and add it to ``FAMILIES``. Adding a benchmark of an existing family: one ``BenchmarkSpec`` in ``SPECS``.
Any folder of the LTS layout also loads as ``lts:PATH`` (its family detected from its files) or, naming the family,
``lts-gpt2:PATH`` / ``lts-txl:PATH``.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import DataError, UnknownNameError
from . import datadir, flexibert, hf, lts_gpt2, lts_layout, lts_txl
from .base import Arch, Benchmark, BenchmarkFamily, BenchmarkSpec
from .fetch import fetch
from .listing import LTS_CITATION, SPEC_ROWS

FAMILIES: dict[str, BenchmarkFamily] = {
    family.name: family for family in (flexibert.FAMILY, lts_gpt2.FAMILY, lts_txl.FAMILY, hf.FAMILY)
}
# The LTS families, and the closed-form counts that tell them apart in a folder's params_summary.yaml.
LTS_FAMILIES = {"gpt2": (lts_gpt2, ("gpt2", "gpt-2")), "txl": (lts_txl, ("transxl", "transformer-xl", "txl"))}

SPECS: dict[str, BenchmarkSpec] = {
    row.name: BenchmarkSpec(**{**vars(row), "family": FAMILIES[row.family]}) for row in SPEC_ROWS
}
ALIASES = {alias: spec.name for spec in SPECS.values() for alias in spec.aliases}
FOLDER_PREFIXES = {"lts:": None, "lts-gpt2:": "gpt2", "lts-txl:": "txl", "hf:": "hf"}


def detect_lts_family(folder: Path) -> BenchmarkFamily:
    """Which LTS family a folder holds: the one whose closed-form counts match ``params_summary.yaml`` for its first
    architecture, else the one its name says (``GPT2`` or ``TransXL``); an error that names the fix otherwise."""
    jobs = lts_layout.check_folder(folder)
    summary_path = folder / "params_summary.yaml"
    if summary_path.is_file():
        summary = lts_layout.read_yaml(summary_path)
        for arch_id, path in jobs:
            reference = summary.get(arch_id) if isinstance(summary, dict) else None
            if not isinstance(reference, dict):
                continue
            raw = lts_layout.read_yaml(path)
            matches = []
            for name, (module, _) in LTS_FAMILIES.items():
                try:
                    counts = module.param_parts(module.normalise_config(raw, str(path)))
                except DataError:
                    continue
                if all(int(reference[p]) == counts[p] for p in lts_layout.SUMMARY_PARTS if p in reference):
                    matches.append(name)
            if len(matches) == 1:
                return FAMILIES[matches[0]]
            break
    lowered = folder.name.lower().replace("_", "-")
    named = [name for name, (_, words) in LTS_FAMILIES.items() if any(word in lowered for word in words)]
    if len(named) == 1:
        return FAMILIES[named[0]]
    raise DataError(f"cannot tell whether {folder} holds GPT-2 or Transformer-XL models: no params_summary.yaml "
                    "entry matches either family's parameter counts, and the folder's name names neither. Name the "
                    f"family: lts-gpt2:{folder} or lts-txl:{folder}.")


def _folder_spec(name: str) -> BenchmarkSpec:
    prefix = next(p for p in FOLDER_PREFIXES if name.startswith(p))
    folder = Path(name[len(prefix):]).expanduser().resolve()
    family_name = FOLDER_PREFIXES[prefix]
    if family_name == "hf":
        described = hf.read_spec(folder)
        return BenchmarkSpec(name=name, family=hf.FAMILY, relpath=str(folder), n_archs=None,
                             target=described.target,
                             direction="higher is better" if described.higher_is_better else "lower is better",
                             url="", sha256=None, license=described.licence or described.license or "see the folder",
                             citation=described.citation or described.description or described.name)
    family = FAMILIES[family_name] if family_name else detect_lts_family(folder)
    return BenchmarkSpec(name=name, family=family, relpath=str(folder), n_archs=None, target="valid_ppl",
                         direction="lower is better", url="", sha256=None, license="see the folder",
                         citation=LTS_CITATION)


def get_spec(name: str) -> BenchmarkSpec:
    """Resolve a benchmark name, an alias, ``lts:PATH`` / ``lts-gpt2:PATH`` / ``lts-txl:PATH``, or ``hf:PATH`` (a
    folder of Hugging Face configs with a results table, ``benchmarks.hf``).

    Parameters
    ----------
    name : str

    Returns
    -------
    BenchmarkSpec

    Raises
    ------
    UnknownNameError
        For a name that is none of these (with the closest known names).
    DataError
        For an ``lts:PATH`` folder whose family cannot be told.
    """
    if any(name.startswith(prefix) for prefix in FOLDER_PREFIXES):
        return _folder_spec(name)
    name = ALIASES.get(name, name)
    if name not in SPECS:
        raise UnknownNameError("benchmark", name, list(SPECS) + list(ALIASES) + list(f"{p}PATH" for p in
                                                                                  FOLDER_PREFIXES))
    return SPECS[name]


def load_benchmark(name: str, data_dir: str | Path | None = None, offline: bool | None = None) -> Benchmark:
    """Load a benchmark by name, fetching it on first use unless offline.

    Parameters
    ----------
    name : str
        A name of ``SPECS`` (``zc-discover benchmarks`` lists them), an alias, or ``lts:PATH``.
    data_dir : str or Path, optional
        Where benchmark files live (default: ``$ZC_DISCOVER_DATA``, else the per-user cache directory).
    offline : bool, optional
        Never download (default: ``$ZC_DISCOVER_OFFLINE``).

    Returns
    -------
    Benchmark
        Its architectures (``.archs``) in a stable order, each with ``.id``, ``.config`` and ``.target``.

    Examples
    --------
    >>> bench = load_benchmark("nas-bench-bert")          # doctest: +SKIP
    """
    spec = get_spec(name)
    path = spec.path(data_dir)
    if not spec.present(data_dir):
        offline = datadir.offline_requested() if offline is None else offline
        if offline or not spec.url:
            how = (f"Download it with 'zc-discover fetch {spec.name}', or point {datadir.ENV_DATA} (or --data-dir) "
                   f"at a folder that holds {spec.relpath}." if spec.url else "Check the path.")
            raise DataError(f"benchmark {spec.name!r} is not at {path}. {how}")
        try:
            fetch(spec, data_dir)
        except DataError as exc:   # say where it looked first: a wrong --data-dir is the usual cause
            raise DataError(f"benchmark {spec.name!r} is not at {path}, and fetching it failed: {exc} (Point "
                            f"--data-dir or {datadir.ENV_DATA} at the folder that holds {spec.relpath}, or pass "
                            "--offline to never download.)") from None
    return Benchmark(spec=spec, path=path, archs=spec.family.load(path))


def family_of_model(model: nn.Module) -> BenchmarkFamily | None:
    """The family whose builder made ``model``, or None for a model of no benchmark family."""
    return next((f for f in FAMILIES.values() if f.model_class and isinstance(model, f.model_class)), None)


def build_model(benchmark: Benchmark, arch: Arch | str, builder: str | None = None, seed: int = 0,
                device: str | torch.device = "cpu") -> nn.Module:
    """Build one architecture of ``benchmark`` as a seeded, initialised torch model.

    Parameters
    ----------
    benchmark : Benchmark
    arch : Arch or str
        The architecture or its id.
    builder : str, optional
        A reading of the config (``benchmark.family.builders``; default the first, ``as-trained``).
    seed : int
        Initialisation seed: the same seed always gives the same weights.
    device : str or torch.device
        ``cpu``, ``cuda``, or ``meta`` (structure only, no weights drawn).

    Returns
    -------
    torch.nn.Module
        In eval mode, its modules tagged with their roles; ``model.zc_init`` records how each parameter was drawn.
    """
    arch = benchmark.arch(arch) if isinstance(arch, str) else arch
    family = benchmark.family
    return family.build(arch.config, family.builder(builder), seed=seed, device=device)


def fetch_benchmark(name: str, data_dir: str | Path | None = None, *, force: bool = False,
                    allow_unverified: bool = False) -> Path:
    """Download a benchmark into the data directory and verify its pinned sha256.

    Parameters
    ----------
    name : str
        A benchmark of ``SPECS`` (or an alias).
    data_dir : str or Path, optional
        Where benchmark files live (default: ``$ZC_DISCOVER_DATA``, else the user cache).
    force : bool
        Download again even if present.
    allow_unverified : bool
        Accept a benchmark without a pinned checksum (its sha256 is logged so it can be pinned).

    Returns
    -------
    Path
        Where the benchmark now is. Nothing half-written is ever left behind.
    """
    return fetch(get_spec(name), data_dir, force=force, allow_unverified=allow_unverified)
