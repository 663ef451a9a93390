"""The benchmark registry: names, where their files live, how to load them and which builders they have."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

from . import datadir
from .errors import DataError, UnknownNameError
from .flexibert_data import load_flexibert
from .lts_data import load_lts
from .records import Arch

ARCHAI = ("https://raw.githubusercontent.com/microsoft/archai/47770415327900684ed95c0bc9bf7cd0d0047fad/"
          "archai/nlp/nas/saved_logs/")
LTS_FILES = tuple(["params_summary.yaml", "ppl_summary.yaml"]
                  + [f"config_{i}/j{k}/model_config.yaml" for i in range(20) for k in range(10)])
LTS_CITATION = ("Javaheripi et al., LiteTransformerSearch: Training-free Neural Architecture Search for Efficient "
                "Language Models, NeurIPS 2022")


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    family: str                 # "flexibert" or "gpt2": which builders apply
    relpath: str                # file or folder under the data directory
    n_archs: int | None
    target: str
    direction: str              # of the raw metric; the Arch target is always higher-is-better
    url: str                    # a file's URL, or a folder's base URL to which ``files`` are appended
    sha256: str | None          # of the file, or the tree digest over ``files``; None: not pinned yet
    license: str
    citation: str
    files: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def is_folder(self) -> bool:
        return bool(self.files) or self.family == "gpt2"

    @property
    def builders(self) -> tuple[str, ...]:
        return FAMILY_BUILDERS[self.family]

    def path(self, data_dir: str | Path | None = None) -> Path:
        root = Path(self.relpath)
        return root if root.is_absolute() else datadir.data_dir(data_dir) / root

    def present(self, data_dir: str | Path | None = None) -> bool:
        path = self.path(data_dir)
        return (path / "ppl_summary.yaml").is_file() if self.is_folder else path.is_file()


FAMILY_BUILDERS = {"flexibert": ("as-trained", "spec", "legacy"), "gpt2": ("as-trained",)}

SPECS = {
    spec.name: spec for spec in [
        BenchmarkSpec(
            name="nas-bench-bert", family="flexibert", relpath="nas-bench-bert/BERT_benchmark.json", n_archs=500,
            target="scores.glue", direction="higher is better",
            url="https://raw.githubusercontent.com/aaronserianni/training-free-nas/"
                "2d76e01b9586cad7340e8268dadba3056efd070b/data/BERT_benchmark.json",
            sha256="fa2ff7198dcd71e0b8021ed2ace1c221672c33cc56931b6dff31fda3d044784f", license="CC BY 4.0",
            citation="Serianni & Kalita, Training-free Neural Architecture Search for RNNs and Transformers, ACL 2023",
            aliases=("flexibert",)),
        BenchmarkSpec(
            name="lts-gpt2-wt103", family="gpt2", relpath="lts/random_GPT2_wt103", n_archs=200,
            target="valid_ppl", direction="lower is better", url=ARCHAI + "random_GPT2_wt103/",
            sha256="790d5e361b414282bb9480517901863d5e4ceacf02fe8d92ed595820187ff14a", license="MIT",
            citation=LTS_CITATION, files=LTS_FILES),
        # Same layout and model family, trained on LM1B. Not shipped with the project's data; its tree digest is
        # not pinned yet, so fetch asks the user to accept an unverified copy (see discover.fetch).
        BenchmarkSpec(
            name="lts-gpt2-lm1b", family="gpt2", relpath="lts/random_GPT2_lm1b", n_archs=200,
            target="valid_ppl", direction="lower is better", url=ARCHAI + "random_GPT2_lm1b/", sha256=None,
            license="MIT", citation=LTS_CITATION, files=LTS_FILES),
    ]
}
ALIASES = {alias: spec.name for spec in SPECS.values() for alias in spec.aliases}


def get_spec(name: str) -> BenchmarkSpec:
    """Resolve a benchmark name, an alias, or ``lts:PATH`` (any folder of the LTS layout)."""
    if name.startswith("lts:"):
        folder = Path(name[4:]).expanduser().resolve()
        return BenchmarkSpec(name=name, family="gpt2", relpath=str(folder), n_archs=None, target="valid_ppl",
                             direction="lower is better", url="", sha256=None, license="see the folder",
                             citation=LTS_CITATION)
    name = ALIASES.get(name, name)
    if name not in SPECS:
        raise UnknownNameError("benchmark", name, list(SPECS) + list(ALIASES) + ["lts:PATH"])
    return SPECS[name]


@dataclass
class Benchmark:
    """A loaded benchmark: its spec, where it was read from, and its records in a stable order."""

    spec: BenchmarkSpec
    path: Path
    archs: list[Arch] = field(repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def __len__(self) -> int:
        return len(self.archs)

    @cached_property
    def by_id(self) -> dict[str, Arch]:
        return {arch.id: arch for arch in self.archs}

    def arch(self, arch_id: str) -> Arch:
        try:
            return self.by_id[str(arch_id)]
        except KeyError:
            raise UnknownNameError(f"architecture id in {self.name}", str(arch_id), self.by_id) from None

    @cached_property
    def checksum(self) -> str:
        from .checksums import file_sha256, tree_sha256
        if self.spec.is_folder:
            files = [p.relative_to(self.path).as_posix() for p in self.path.rglob("*.yaml")]
            return tree_sha256(self.path, files)
        return file_sha256(self.path)


LOADERS: dict[str, Callable[[Path], list[Arch]]] = {"flexibert": load_flexibert, "gpt2": load_lts}


def load_benchmark(name: str, data_dir: str | Path | None = None, offline: bool | None = None) -> Benchmark:
    """Load a benchmark by name, fetching it on first use unless offline (``--offline``/``ZC_DISCOVER_OFFLINE``)."""
    spec = get_spec(name)
    path = spec.path(data_dir)
    if not spec.present(data_dir):
        offline = datadir.offline_requested() if offline is None else offline
        if offline or not spec.url:
            raise DataError(
                f"benchmark {spec.name!r} is not at {path}. Download it with 'zc-discover fetch {spec.name}', or "
                f"point {datadir.ENV_DATA} (or --data-dir) at a folder that holds {spec.relpath}.")
        from .fetch import fetch
        fetch(spec, data_dir)
    records = LOADERS[spec.family](path)
    return Benchmark(spec=spec, path=path, archs=records)
