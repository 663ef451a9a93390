"""The typed schema of every file the project reads, in one place (pydantic models; ``files.read_json`` and
``files.read_yaml`` validate against them).

A field of the wrong type, a number out of its range, a missing key: the reader answers one line naming the file and
the field. Ranges are wide enough for every file this project writes and every real benchmark, and narrow enough
that nothing downstream overflows, allocates without bound or loops for long (a hidden size of 2^30, a population of
10^9, a seed of 1e308, a process id of 10^30).
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from .limits import (MAX_FOLDS, MAX_GENERATIONS, MAX_HEADS, MAX_LAYERS, MAX_PID, MAX_POPULATION,  # noqa: F401
                     MAX_SEED, MAX_TREE_SIZE, MAX_VOCABULARY, MAX_WIDTH)

Number = StrictInt | StrictFloat          # JSON numbers (the reader already refused NaN and infinities)
Seed = Annotated[StrictInt, Field(ge=0, le=MAX_SEED)]
Count = Annotated[StrictInt, Field(ge=0)]


def _whole(value: float) -> float:
    if value != int(value):
        raise ValueError("must be a whole number")
    return value


# a count written as a number, 6631088 or 6631088.0 (LTS's summaries), within 2^53
WholeCount = Annotated[Number, Field(ge=0, le=2**53), AfterValidator(_whole)]


class Record(BaseModel):
    """A JSON object whose known fields are typed; other fields are kept as they are (files of newer versions)."""
    model_config = ConfigDict(extra="allow", strict=True)


class Closed(BaseModel):
    """A JSON object with exactly these fields."""
    model_config = ConfigDict(extra="forbid", strict=True)


# --- run folders -----------------------------------------------------------------------------------------------------

class SearchArguments(Record):
    population: Annotated[StrictInt, Field(ge=2, le=MAX_POPULATION)] = 200
    generations: Annotated[StrictInt, Field(ge=0, le=MAX_GENERATIONS)] = 25
    fitness: StrictStr = "spearman"
    aggregate: StrictStr = "min"
    seed: Seed = 0
    init_seed: Optional[Seed] = None
    folds: Annotated[StrictInt, Field(ge=1, le=MAX_FOLDS)] = 5
    benchmarks: list[StrictStr] = []
    transfer: list[StrictStr] = []
    train_ids: Optional[list[StrictStr]] = None
    builder: Optional[StrictStr] = None
    operators: list[StrictStr] = []
    with_activations: StrictBool = False
    with_steps: Optional[Annotated[StrictInt, Field(ge=1, le=10_000)]] = None
    step_details: StrictBool = False


class RunMarker(Closed):
    """``.zc-discover-run`` of a run folder: what it is, and which run."""
    kind: Literal["zc-discover run folder"]
    run: Annotated[StrictStr, Field(min_length=8, max_length=64)]


class RunConfig(Record):
    """``config.json`` of a run folder."""
    arguments: SearchArguments
    versions: dict[str, StrictStr] = {}
    features: Count = 0
    dropped_features: dict[str, StrictStr] = {}
    benchmark_checksums: dict[str, StrictStr] = {}


class Quality(Record):
    """Rank-quality figures (any may be null where undefined)."""
    n: Optional[Count] = None
    spearman: Optional[Number] = None
    kendall: Optional[Number] = None
    kendall_iso_params: Optional[Number] = None
    kendall_size_matched: Optional[Number] = None
    partial_spearman: Optional[Number] = None
    top10_precision: Optional[Number] = None
    reason: Optional[StrictStr] = None


class Ties(Record):
    tolerance: Optional[Number] = None
    formulas: Optional[Count] = None
    distinct_rankings: Optional[Count] = None
    simplest: list[StrictStr] = []


class Metrics(Record):
    """``metrics.json`` of a run folder."""
    formula: StrictStr
    features: list[StrictStr]
    latex: StrictStr = ""
    tree: StrictStr = ""
    complexity: Annotated[StrictInt, Field(ge=1, le=MAX_TREE_SIZE)] = 1
    heldout: dict[str, Quality] = {}
    transfer: dict[str, Quality] = {}
    folds: dict[str, dict[str, Quality]] = {}
    fold_formulas: dict[str, StrictStr] = {}
    ties: Ties = Ties()
    evaluations: Optional[Count] = None
    wall_seconds: Optional[Annotated[Number, Field(ge=0)]] = None


class Stage(Closed):
    """``stages/<stage>.json``: a finished stage of a search."""
    stage: StrictStr
    seed: Seed
    formula_tree: StrictStr
    formula: StrictStr
    complexity: Annotated[StrictInt, Field(ge=1, le=MAX_TREE_SIZE)]
    train: Number
    validation: Number
    heldout: dict[str, Quality]
    front: list[dict[str, Any]]
    logbook: list[dict[str, Any]]
    seconds: Annotated[Number, Field(ge=0)] = 0.0
    evaluations: Count = 0
    ties: Ties = Ties()
    train_by_space: dict[str, Number] = {}
    run: Optional[StrictStr] = None   # the identity of the run that wrote it (``runs.run_identity``)


class LogbookRow(Closed):
    stage: StrictStr
    generation: Count
    evaluations: Count
    invalid: Count
    front_size: Count
    best_train: Number
    best_train_validation: Number
    best_validation: Number
    seconds: Annotated[Number, Field(ge=0)]


def _json_tuple(value: Any) -> Any:
    """A JSON array where a schema wants a fixed-length tuple (strict validation takes only tuples)."""
    return tuple(value) if isinstance(value, list) else value


# a tree and its two fitness values, as a checkpoint holds it: ["add(a, b)", [0.9, 3]]
Scored = Annotated[tuple[StrictStr, Annotated[tuple[Number, Number], BeforeValidator(_json_tuple)]],
                   BeforeValidator(_json_tuple)]


class Checkpoint(Closed):
    """``checkpoints/<stage>.json``: a stage's state after a generation."""
    format: Literal["zc-discover-checkpoint"]
    version: Literal[1]
    stage: StrictStr
    population_size: Annotated[StrictInt, Field(ge=2, le=MAX_POPULATION)]
    generation: Annotated[StrictInt, Field(ge=0, le=MAX_GENERATIONS)]
    population: list[Scored]
    front: list[Scored]
    logbook: list[LogbookRow]
    random_state: Annotated[tuple[Literal[3], Annotated[list[Annotated[StrictInt, Field(ge=0, lt=2**32)]],
                                                        Field(min_length=625, max_length=625)], Optional[Number]],
                            BeforeValidator(_json_tuple)]
    seconds: Annotated[Number, Field(ge=0)]
    evaluations: Count
    invalid: Count
    seen: list[StrictStr]
    run: Optional[StrictStr] = None


Sessions = list[Annotated[Number, Field(ge=0)]]


class Lock(Record):
    """``.lock``: the process that owns a run folder."""
    pid: Annotated[StrictInt, Field(ge=1, le=MAX_PID)]
    host: Optional[StrictStr] = None
    since: Optional[Number] = None


# --- values files ----------------------------------------------------------------------------------------------------

class ProbeDescription(Record):
    batch: Optional[Annotated[StrictInt, Field(ge=1)]] = None
    seq: Optional[Annotated[StrictInt, Field(ge=1)]] = None
    tokens: Optional[StrictStr] = None
    text: Optional[StrictStr] = None
    gradient: Optional[StrictStr] = None


class ValuesProvenance(Record):
    """The JSON beside a values file (``NAME.json``, or ``compare.json`` of ``compare -o``)."""
    benchmark: Optional[StrictStr] = None
    benchmark_sha256: Optional[StrictStr] = None
    builder: Optional[StrictStr] = None
    seed: Optional[Seed] = None
    probe: Optional[ProbeDescription] = None
    versions: Optional[dict[str, StrictInt]] = None
    proxies: Optional[list[StrictStr]] = None
    features: Optional[list[StrictStr]] = None


# --- benchmark files -------------------------------------------------------------------------------------------------

Width = Annotated[StrictInt, Field(ge=1, le=MAX_WIDTH)]
Positive = Annotated[StrictInt, Field(ge=1)]


class FlexiBertLayer(Record):
    operation_type: StrictStr
    operation_parameter: StrictStr | Annotated[StrictInt, Field(ge=1, le=1025)]
    num_operation_heads: Annotated[StrictInt | StrictStr, Field()]
    feed_forward_dimension: StrictInt | StrictStr
    num_feed_forward: StrictInt | StrictStr


class FlexiBertNas(Record):
    encoder_layers: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_LAYERS)]


class FlexiBertOverrides(Record):
    hidden_size: StrictInt | StrictStr
    nas_config: FlexiBertNas


class FlexiBertHparams(Record):
    model_hparam_overrides: FlexiBertOverrides


class FlexiBertScores(Record):
    glue: Number


class FlexiBertRecord(Record):
    """One architecture of NAS-Bench-BERT's ``BERT_benchmark.json``."""
    id: StrictStr | StrictInt
    scores: FlexiBertScores
    hparams: FlexiBertHparams


class PerplexityEntry(Record):
    """One job of an LTS ``ppl_summary.yaml``."""
    valid_ppl: Optional[Number] = None


class ParameterSummary(Record):
    """One job of an LTS ``params_summary.yaml``: parameter counts by part."""
    AdaEmb: Optional[WholeCount] = None
    Attn: Optional[WholeCount] = None
    FFN: Optional[WholeCount] = None
    nonembedding: Optional[WholeCount] = None
    total: Optional[WholeCount] = None


PerplexitySummary = dict[StrictStr, Optional[PerplexityEntry | Annotated[Number, Field(gt=0)]]]
NumberSummary = dict[StrictStr, Optional[Number]]
ParameterSummaries = dict[StrictStr, Optional[ParameterSummary]]
ScalarSummary = dict[StrictStr, Optional[dict[StrictStr, Number | StrictStr | None]]]


class LtsModelConfig(Record):
    """An LTS ``model_config.yaml``: the fields both families read, typed and bounded (the families check the rest:
    divisibility, per-layer lengths, clusters)."""
    n_layer: Annotated[StrictInt, Field(ge=1, le=MAX_LAYERS)]
    d_model: Width
    d_embed: Annotated[StrictInt, Field(ge=-1, le=MAX_WIDTH)]
    n_head: Annotated[StrictInt, Field(ge=1, le=MAX_HEADS)] | Annotated[
        list[Annotated[StrictInt, Field(ge=1, le=MAX_HEADS)]], Field(max_length=MAX_LAYERS)]
    d_inner: Width | Annotated[list[Width], Field(max_length=MAX_LAYERS)]
    n_token: Annotated[StrictInt, Field(ge=1, le=MAX_VOCABULARY)]
    cutoffs: Annotated[list[StrictInt], Field(max_length=64)]
    div_val: Annotated[StrictInt, Field(ge=1, le=64)]
    tgt_len: Annotated[StrictInt, Field(ge=1, le=65_536)]
    d_head: Optional[Annotated[StrictInt, Field(ge=-1, le=MAX_WIDTH)] | Annotated[
        list[Annotated[StrictInt, Field(ge=-1, le=MAX_WIDTH)]], Field(max_length=MAX_LAYERS)]] = None
    tie_projs: Optional[list[StrictBool | StrictInt]] = None
    tie_weight: Optional[StrictBool] = None
    pre_lnorm: Optional[StrictBool] = None
    weight_init_std: Optional[Annotated[Number, Field(gt=0, le=10)]] = None
    proj_init_std: Optional[Annotated[Number, Field(gt=0, le=10)]] = None


class HfBenchmark(Closed):
    """``benchmark.yaml`` of a Hugging Face benchmark folder (``hf:PATH``)."""
    name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    task: Literal["causal-lm", "masked-lm", "sequence-classification"]
    target: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    higher_is_better: StrictBool
    num_labels: Optional[Annotated[StrictInt, Field(ge=2, le=10_000)]] = None
    description: Optional[StrictStr] = None
    licence: Optional[StrictStr] = None
    license: Optional[StrictStr] = None
    citation: Optional[StrictStr] = None


# --- trained models ----------------------------------------------------------------------------------------------

class ModelCard(Closed):
    """``card.json`` of a trained model folder: what made its weights, and how good they are."""
    name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    family: Literal["llama", "gpt2", "bert", "roformer"]
    corpus: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]
    tokenizer: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]
    weights_sha256: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]
    seed: Seed
    steps: Annotated[StrictInt, Field(ge=0, le=10_000_000)]
    batch: Annotated[StrictInt, Field(ge=1, le=1_000_000)]
    seq_len: Annotated[StrictInt, Field(ge=1, le=1_000_000)]
    lr: Annotated[Number, Field(gt=0, le=1)]
    threads: Annotated[StrictInt, Field(ge=1, le=4096)]
    train_loss: Number
    heldout_loss: Number
    unigram_loss: Number
    heldout_tokens: Count
    train_seconds: Annotated[Number, Field(ge=0)]
    device: StrictStr
    versions: dict[StrictStr, StrictStr] = {}


__all__ = ["HfBenchmark", "ModelCard", "Checkpoint", "FlexiBertRecord", "Lock", "LtsModelConfig", "MAX_FOLDS", "MAX_GENERATIONS", "MAX_HEADS",
           "MAX_LAYERS", "MAX_POPULATION", "MAX_SEED", "MAX_WIDTH", "Metrics", "ParameterSummaries",
           "PerplexitySummary", "RunConfig", "ScalarSummary", "Sessions", "Stage", "ValuesProvenance"]
