"""What ``zc-discover benchmarks`` lists, with nothing heavy imported: each family's facts (name, description,
builders, layout, roles) and each published benchmark's row (name, family, files, target, origin).

The family modules build their ``BenchmarkFamily`` from these facts and ``catalog`` builds ``SPECS`` from these rows,
so a listing and a loaded benchmark can never disagree - and listing them never imports torch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from . import datadir


@dataclass(frozen=True)
class FamilyFacts:
    """The part of a family a listing shows (``base.BenchmarkFamily`` has the same fields, and the callables)."""

    name: str
    description: str
    builders: tuple[str, ...]
    layout: str
    roles: Mapping[str, str]

    def fields(self) -> dict:
        """As keyword arguments of ``BenchmarkFamily``."""
        return asdict(self)


FAMILY_FACTS: dict[str, FamilyFacts] = {facts.name: facts for facts in [
    FamilyFacts("flexibert", "FlexiBERT encoders (NAS-Bench-BERT)", ("as-trained", "spec", "legacy"), "file",
                {"embedding": "word, position and token-type tables and the 128 -> H projection",
                 "attention": "query/key/value (and WMA's weight) and the output dense of SA layers; DSC's attention "
                              "projections",
                 "mixing": "LT's input projection and output dense; DSC's convolution branch",
                 "ffn": "the dense layers", "norm": "every LayerNorm"}),
    FamilyFacts("gpt2", "LTS GPT-2 (pre-LN decoder, adaptive input and softmax)", ("as-trained",), "folder",
                {"embedding": "adaptive input tables and projections, learned positions (word_emb, wpe)",
                 "attention": "c_attn (d -> 3d) and c_proj of each block", "ffn": "c_fc and c_proj of each MLP",
                 "norm": "ln_1, ln_2, ln_f", "head": "the adaptive softmax's own cluster logits, biases and projections"}),
    FamilyFacts("txl", "LTS Transformer-XL (relative attention, adaptive input and softmax)", ("as-trained",), "folder",
                {"embedding": "adaptive input tables and projections (word_emb)",
                 "attention": "qkv_net, r_net (the relative-position projection), o_net; r_w_bias and r_r_bias "
                              "(counted, not measured: they are biases)",
                 "ffn": "fc1 and fc2 of each position-wise FFN", "norm": "the two LayerNorms of each layer",
                 "head": "the adaptive softmax's own cluster logits, biases and projections"}),
    FamilyFacts("hf", "Hugging Face models from configs (hf:PATH: benchmark.yaml, results.csv, configs/<id>.json)",
                ("seeded",), "folder",
                {"attention": "each layer's child whose class names attention", "ffn": "each layer's other children",
                 "embedding": "nn.Embedding modules outside the layers", "norm": "norm modules",
                 "head": "lm_head, cls, classifier, score, pooler"}),
]}


@dataclass(frozen=True)
class SpecFields:
    """The fields of one benchmark, whatever holds its family: a ``SpecRow`` (the family by name, for listings) or a
    ``base.BenchmarkSpec`` (the family itself)."""

    name: str
    family: Any
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


@dataclass(frozen=True)
class SpecRow(SpecFields):
    """One published benchmark as ``catalog`` turns it into a ``BenchmarkSpec`` (``family`` by name here)."""

    family: str

    @property
    def builders(self) -> tuple[str, ...]:
        """The family's builders (the first is the default)."""
        return FAMILY_FACTS[self.family].builders

    def present(self, data_dir: str | Path | None = None) -> bool:
        """Whether its files are under ``data_dir`` (see ``present_at``)."""
        return present_at(self.relpath, FAMILY_FACTS[self.family].layout == "folder", data_dir)


def present_at(relpath: str, is_folder: bool, data_dir: str | Path | None = None) -> bool:
    """Whether a benchmark is there at all (a folder that exists counts: its loader names what is missing)."""
    root = Path(relpath)
    path = root if root.is_absolute() else datadir.data_dir(data_dir) / root
    return path.is_dir() if is_folder else path.is_file()


ARCHAI = ("https://raw.githubusercontent.com/microsoft/archai/47770415327900684ed95c0bc9bf7cd0d0047fad/"
          "archai/nlp/nas/saved_logs/")
LTS_SUMMARIES = ("params_summary.yaml", "ppl_summary.yaml")
LTS_CITATION = ("Javaheripi et al., LiteTransformerSearch: Training-free Neural Architecture Search for Efficient "
                "Language Models, NeurIPS 2022")


def lts_files(jobs: list[tuple[int, int]] | None = None) -> tuple[str, ...]:
    """The files of an LTS folder: the two summaries and one config per job (default: 20 configs x 10 jobs)."""
    jobs = jobs if jobs is not None else [(i, k) for i in range(20) for k in range(10)]
    return LTS_SUMMARIES + tuple(f"config_{i}/j{k}/model_config.yaml" for i, k in jobs)


def _lts(name: str, family: str, folder: str, n_archs: int, sha256: str | None,
         jobs: list[tuple[int, int]] | None = None) -> SpecRow:
    return SpecRow(name=name, family=family, relpath=f"lts/{folder}", n_archs=n_archs, target="valid_ppl",
                   direction="lower is better", url=ARCHAI + folder + "/", sha256=sha256, license="MIT",
                   citation=LTS_CITATION, files=lts_files(jobs))


SPEC_ROWS: tuple[SpecRow, ...] = (
    SpecRow(name="nas-bench-bert", family="flexibert", relpath="nas-bench-bert/BERT_benchmark.json",
            n_archs=500, target="scores.glue", direction="higher is better",
            url="https://raw.githubusercontent.com/aaronserianni/training-free-nas/"
                "2d76e01b9586cad7340e8268dadba3056efd070b/data/BERT_benchmark.json",
            sha256="fa2ff7198dcd71e0b8021ed2ace1c221672c33cc56931b6dff31fda3d044784f", license="CC BY 4.0",
            citation="Serianni & Kalita, Training-free Neural Architecture Search for RNNs and Transformers, ACL 2023",
            aliases=("flexibert",)),
    _lts("lts-gpt2-wt103", "gpt2", "random_GPT2_wt103", 200,
         "790d5e361b414282bb9480517901863d5e4ceacf02fe8d92ed595820187ff14a"),
    _lts("lts-txl-wt103", "txl", "random_TransXL_wt103", 200,
         "392342766462dd35f64eee86404fc97557d3a9c2f59656943e3478560970f0a4"),
    # 99 jobs (config_5/j6 was never written); config_6_j4 has no perplexity and is skipped with a warning.
    _lts("lts-txl-wt103-homogeneous", "txl", "random_TransXL_wt103_homogeneous", 98,
         "6b67687366285e3030dfb9228e1ce658d46f4f00de819911e4efdb782071894e",
         [(i, k) for i in range(10) for k in range(10) if (i, k) != (5, 6)]),
    # Trained on LM1B; not shipped with the project's data (fetch them). Digests of the files at the pinned commit.
    # The GPT-2 folder's params_summary.yaml holds Transformer-XL counts, so loading it as GPT-2 stops with the
    # count mismatch (see the README); 3 Transformer-XL jobs have no perplexity, hence 183.
    _lts("lts-gpt2-lm1b", "gpt2", "random_GPT2_lm1b", 200,
         "ef20a9dc8d99782b84309492d1a0419330f19328a59aa2cac7b3898685f234c5"),
    _lts("lts-txl-lm1b", "txl", "random_TransXL_lm1b", 183,
         "9efc42c6e3ba305b92024525ea4e7733196611fe7016f5f3fb87ba83b0269903",
         [(i, k) for i in range(20) for k in range(10) if i != 12 and not (i == 6 and k >= 6)]),
)

__all__ = ["FAMILY_FACTS", "FamilyFacts", "LTS_CITATION", "SPEC_ROWS", "SpecRow", "lts_files", "present_at"]
