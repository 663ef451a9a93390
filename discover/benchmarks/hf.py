"""Your own search space: a folder of Hugging Face configs with a results table (``hf:PATH``).

The folder::

    benchmark.yaml     name, task (causal-lm | masked-lm | sequence-classification), target (a results column),
                       higher_is_better, num_labels (sequence-classification), optional description and licence
    results.csv        id, then one column per metric (the target and any others, kept as each architecture's metrics)
    configs/<id>.json  a Hugging Face config; its ``model_type`` picks the model class through ``AutoConfig``

A folder is data from elsewhere and is read as such (``files``): nothing in it ever runs. A config that names code
(``auto_map``, ``trust_remote_code``) is refused, models are built from configs only - no weights, no hub, offline -
and every file is checked: missing or extra ids between the table and the configs, duplicate ids, NaN or non-numeric
targets, unknown model types, each one line naming the file.

Models are initialised by this project's seeded scheme (``seeding``), like the other families: every weight matrix
and embedding N(0, ``initializer_range``) drawn from (seed, parameter name, shape), norms 1 and 0, biases 0, so that
architectures sharing a parameter share its values and featurizing measures each distinct matrix once. (Family-
specific rescalings of Hugging Face's own initialisation, such as GPT-2's residual projections, are not applied.)
Modules are given their roles by type and position (``tag_model``): each layer of the model's layer list, its
attention (a child whose class names attention), its feed-forward (the rest), norms, embeddings and the head; the
probe records attention probabilities (eager attention) and feed-forward activations through forward hooks.
"""
from __future__ import annotations

import io
import math
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from primitives.decompose import decompose
from primitives.roles import LAYER_ATTR, ROLE_ATTR, tag
from .. import files, schemas
from ..errors import ConfigError, DataError, UnknownNameError
from .base import Arch, BenchmarkFamily
from .listing import FAMILY_FACTS
from .probe_hooks import PROBE_ATTR, record_activation
from .seeding import DEFAULT_STD, InitKey, _without_default_init, draw

TASKS = ("causal-lm", "masked-lm", "sequence-classification")
REFUSED_KEYS = ("auto_map", "trust_remote_code", "custom_pipelines")
HEAD_NAMES = ("lm_head", "cls", "classifier", "score", "pooler", "qa_outputs", "embed_out", "lm_loss")
MAX_CONFIG_BYTES = 1 << 20
MAX_ARCHITECTURES = 100_000
MAX_MODEL_BYTES = 8 * 2**30
# the sizes a config may set, and their largest values (schemas' bounds)
_WIDTHS = ("hidden_size", "n_embd", "d_model", "intermediate_size", "n_inner", "ffn_dim", "d_ff", "d_kv", "head_dim",
           "encoder_ffn_dim", "decoder_ffn_dim", "n_positions", "max_position_embeddings")
_LAYERS = ("num_hidden_layers", "n_layer", "num_layers", "num_decoder_layers", "encoder_layers", "decoder_layers")
_HEADS = ("num_attention_heads", "n_head", "num_heads", "num_key_value_heads", "encoder_attention_heads",
          "decoder_attention_heads")
SIZE_BOUNDS = {**dict.fromkeys(_WIDTHS, schemas.MAX_WIDTH), **dict.fromkeys(_LAYERS, schemas.MAX_LAYERS),
               **dict.fromkeys(_HEADS, schemas.MAX_HEADS), "vocab_size": schemas.MAX_VOCABULARY}
OPTIONAL_SIZES = ("n_inner", "head_dim", "num_key_value_heads", "num_decoder_layers")   # None: the default


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ConfigError("hf:PATH benchmarks need Hugging Face transformers: pip install 'zc-discover[hf]'") \
            from None
    transformers.logging.set_verbosity_error()
    return transformers


# --- the folder --------------------------------------------------------------------------------------------------

def read_spec(folder: Path) -> schemas.HfBenchmark:
    """``benchmark.yaml`` of a folder, checked."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; hf:PATH names a folder with benchmark.yaml, results.csv and "
                        "configs/<id>.json")
    path = folder / "benchmark.yaml"
    if not path.exists():
        raise DataError(f"{path} is missing; an hf:PATH folder describes itself there (name, task, target, "
                        "higher_is_better)")
    spec = files.read_yaml(path, "benchmark description", schemas.HfBenchmark, root=folder)
    if spec.task == "sequence-classification" and spec.num_labels is None:
        raise DataError(f"{path}: task sequence-classification needs num_labels")
    return spec


def _results(folder: Path, spec: schemas.HfBenchmark) -> dict[str, dict[str, Any]]:
    import pandas as pd
    path = folder / "results.csv"
    if not path.exists():
        raise DataError(f"{path} is missing; it lists id and one column per metric ({spec.target} among them)")
    data = files.read_bytes(path, "results table", 64 * 2**20, root=folder)
    try:
        table = pd.read_csv(io.BytesIO(data), dtype={"id": str}, keep_default_na=False,
                            na_values=["", "nan", "NaN", "NA", "null"])
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable CSV table ({str(error).splitlines()[0]})") from None
    if "id" not in table.columns:
        raise DataError(f"{path}: no id column (columns found: {list(table.columns)[:8]})")
    if spec.target not in table.columns:
        raise DataError(f"{path}: no column {spec.target!r}, the target benchmark.yaml names (columns: "
                        f"{list(table.columns)[:8]})")
    if len(table) > MAX_ARCHITECTURES:
        raise DataError(f"{path}: {len(table):,} rows; at most {MAX_ARCHITECTURES:,} architectures")
    ids = table["id"].astype(str)
    bad_id = next((i for i in ids if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}", i)), None)
    if bad_id is not None:
        raise DataError(f"{path}: id {bad_id[:40]!r} is not a file name of letters, digits, '_', '.' and '-'")
    twice = ids[ids.duplicated()].tolist()
    if twice:
        raise DataError(f"{path}: id {twice[0]!r} appears more than once")
    target = pd.to_numeric(table[spec.target], errors="coerce")
    raw = table[spec.target]
    not_numbers = raw.notna() & target.isna()
    if not_numbers.any():
        first = raw[not_numbers].index[0]
        raise DataError(f"{path}: {spec.target} of {ids[first]!r} is {str(raw[first])[:30]!r}, not a number")
    missing = target.isna() | ~target.map(lambda v: math.isfinite(v) if v == v else False)
    if missing.any():
        raise DataError(f"{path}: {spec.target} of {ids[missing].iloc[0]!r} is missing or not finite; every "
                        "architecture needs its trained score")
    rows = {}
    for index, arch_id in enumerate(ids):
        metrics = {}
        for column in table.columns:
            if column != "id":
                value = table[column].iloc[index]
                metrics[column] = value.item() if hasattr(value, "item") else value
        rows[arch_id] = metrics
    return rows


def check_task(raw: dict[str, Any], task: str, path: Path) -> None:
    """Refuse a model that cannot do the folder's task: an encoder (BERT, RoBERTa, ...: a masked-LM model type that
    is not marked ``is_decoder``) in a ``causal-lm`` folder would be scored on next-token prediction while it sees
    the tokens it predicts."""
    from transformers.models.auto import modeling_auto as auto
    model_type = raw["model_type"]
    if task == "causal-lm" and model_type in auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES and not raw.get("is_decoder"):
        raise DataError(f"{path}: a {model_type} config is a bidirectional encoder, and benchmark.yaml says task: "
                        "causal-lm (next-token prediction); set task: masked-lm (or sequence-classification) for an "
                        "encoder, or \"is_decoder\": true in the config for a causal one")


def _nested(value: Any, trail: str = ""):
    """(dotted path, key, value) of every entry of every mapping inside ``value``, at any depth (iteratively)."""
    stack = [(value, trail)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                here = f"{where}.{key}" if where else str(key)
                yield here, key, child
                stack.append((child, here))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))


def _check_sizes(raw: dict[str, Any], path: Path) -> None:
    """Every size a config sets - at any depth, sub-configs included - is a whole number in its range, the heads
    divide the width, and the model it describes fits in memory: checked before anything is allocated."""
    for where, key, value in _nested(raw):
        bound = SIZE_BOUNDS.get(key)
        if bound is None or (value is None and key in OPTIONAL_SIZES):
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise DataError(f"{path}: {where} is {value!r}; it must be a whole number from 1 to {bound:,}")
        if not 1 <= value <= bound:
            raise DataError(f"{path}: {where} is {value:,}; it must be from 1 to {bound:,}")
    width = next((raw[k] for k in ("hidden_size", "n_embd", "d_model") if isinstance(raw.get(k), int)), None)
    heads = next((raw[k] for k in ("num_attention_heads", "n_head", "num_heads") if isinstance(raw.get(k), int)),
                 None)
    if width and heads and "head_dim" not in raw and "d_kv" not in raw and width % heads:
        raise DataError(f"{path}: {heads} attention heads do not divide the width {width}; choose a number of "
                        "heads that does (or give head_dim)")
    layers = next((raw[k] for k in _LAYERS if isinstance(raw.get(k), int)), 1)
    ffn = next((raw[k] for k in ("intermediate_size", "n_inner", "ffn_dim", "d_ff") if isinstance(raw.get(k), int)),
               4 * (width or 1))
    vocab = raw.get("vocab_size") if isinstance(raw.get("vocab_size"), int) else 0
    estimate = 4 * ((width or 1) * (2 * vocab + layers * (4 * (width or 1) + 3 * ffn)))   # float32 bytes, roughly
    if estimate > MAX_MODEL_BYTES:
        raise DataError(f"{path}: this config describes a model of about {estimate / 2**30:,.1f} GiB of weights, over "
                        f"the {MAX_MODEL_BYTES / 2**30:.0f} GiB a benchmark model may take here; it is not one to "
                        "build on this machine")


def check_config(raw: Any, path: Path) -> dict[str, Any]:
    """A Hugging Face config as a dict that names no code (at any depth: sub-configs too), has a known
    ``model_type`` and sizes in range (``_check_sizes``)."""
    if not isinstance(raw, dict):
        raise DataError(f"{path}: a config is a JSON object, got {type(raw).__name__}")
    for where, key, _ in _nested(raw):
        if key in REFUSED_KEYS:
            raise DataError(f"{path}: {where} names code to run, and a benchmark folder never runs code; remove it "
                            "(use a model_type transformers ships)")
    model_type = raw.get("model_type")
    if not isinstance(model_type, str):
        raise DataError(f"{path}: no model_type; it picks the model class (bert, gpt2, llama, ...)")
    known = _transformers().CONFIG_MAPPING
    if model_type not in known:
        raise UnknownNameError(f"model_type in {path}", model_type, list(known.keys()))
    _check_sizes(raw, path)
    return raw


def load_folder(folder: Path) -> list[Arch]:
    """Every architecture of an ``hf:PATH`` folder, checked (see the module docstring)."""
    folder = Path(folder)
    spec = read_spec(folder)
    results = _results(folder, spec)
    configs_dir = folder / "configs"
    if not configs_dir.is_dir() or configs_dir.is_symlink():
        raise DataError(f"{configs_dir} is not a folder; it holds one <id>.json config per architecture")
    found = {p.stem: p for p in configs_dir.iterdir() if p.suffix == ".json"}
    extra = sorted(set(found) - set(results))
    lacking = [i for i in results if i not in found]
    if lacking:
        raise DataError(f"{configs_dir}: no config for {len(lacking)} architecture(s) of results.csv (first: "
                        f"{lacking[0]!r}); add configs/{lacking[0]}.json or remove its row")
    if extra:
        raise DataError(f"{configs_dir}: {len(extra)} config(s) without a row in results.csv (first: "
                        f"{extra[0]}.json); add its results or remove it")
    sign = 1.0 if spec.higher_is_better else -1.0
    archs = []
    for arch_id, metrics in results.items():
        path = found[arch_id]
        raw = check_config(files.read_json(path, "Hugging Face config", limit=MAX_CONFIG_BYTES, root=folder), path)
        check_task(raw, spec.task, path)
        config = {"task": spec.task, "num_labels": spec.num_labels, "hf": raw}
        archs.append(Arch(id=arch_id, config=config, target=sign * float(metrics[spec.target]), metrics=metrics))
    if not archs:
        raise DataError(f"{folder / 'results.csv'} lists no architecture")
    return archs


# --- models ------------------------------------------------------------------------------------------------------

def hf_config(config: dict[str, Any]):
    """The transformers config object of an architecture (eager attention, so that the probe sees its weights)."""
    transformers = _transformers()
    raw = dict(config["hf"])
    model_type = raw.pop("model_type")
    for key in ("architectures", "_name_or_path", "transformers_version", "torch_dtype", "dtype"):
        raw.pop(key, None)
    if config.get("task") == "sequence-classification":
        raw["num_labels"] = config["num_labels"]
    try:
        hf = transformers.AutoConfig.for_model(model_type, **raw)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise ConfigError(f"transformers cannot build a {model_type} config from it: {error}") from None
    hf._attn_implementation = "eager"
    if config.get("task") == "sequence-classification" and getattr(hf, "pad_token_id", None) is None:
        hf.pad_token_id = 0   # the classifier reads the last non-padding token; without one it refuses batches
    return hf


def model_class(config: dict[str, Any]):
    """The transformers class the task asks for (a seq2seq model_type such as t5 reads causal-lm as seq2seq LM)."""
    transformers = _transformers()
    from transformers.models.auto import modeling_auto as auto
    model_type = config["hf"]["model_type"]
    task = config["task"]
    if task == "causal-lm":
        if model_type in auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
            return transformers.AutoModelForCausalLM
        if model_type in auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES:
            return transformers.AutoModelForSeq2SeqLM
    elif task == "masked-lm" and model_type in auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return transformers.AutoModelForMaskedLM
    elif task == "sequence-classification" and model_type in auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        return transformers.AutoModelForSequenceClassification
    raise ConfigError(f"transformers has no {task} model for model_type {model_type!r}")


def _layer_lists(model: nn.Module) -> list[nn.ModuleList]:
    """The model's layer stacks in model order: ModuleLists of one class whose name says layer or block."""
    stacks = []
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) and len({type(m) for m in module}) == 1 and \
                re.search(r"(Layer|Block)$", type(module[0]).__name__):
            stacks.append(module)
    return stacks


def _is_norm(module: nn.Module) -> bool:
    return isinstance(module, nn.LayerNorm) or type(module).__name__.lower().endswith(("norm", "layernorm"))


def _holds_parameters(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def tag_model(model: nn.Module) -> nn.Module:
    """Give a Hugging Face model's modules their roles and layers by type and position (``primitives.tag``).

    Every layer of the layer stacks (numbered through the stacks in model order: a T5 decoder's first layer follows
    the encoder's last) is tagged with its index; inside it, a child whose class name says attention is
    ``attention``, a norm is ``norm``, any other child with parameters ``ffn``. Outside the layers, embeddings are
    ``embedding``, norms ``norm``, and the head modules (``lm_head``, ``cls``, ``classifier``, ``score``, ...)
    ``head``. Raises ``DataError`` when no layer stack is found."""
    stacks = _layer_lists(model)
    if not stacks:
        raise DataError(f"cannot find the layers of this {type(model).__name__} (a ModuleList of ...Layer or ...Block "
                        "modules); tag its modules with primitives.tag")
    index = 0
    inside: set[int] = set()
    for stack in stacks:
        for layer in stack:
            tag(layer, layer=index)
            index += 1
            inside.update(id(m) for m in layer.modules())
            for child in _children(layer):
                if _is_norm(child):
                    tag(child, "norm")
                elif "attention" in type(child).__name__.lower():
                    tag(child, "attention")
                    heads = _heads_of(model)
                    child.zc_heads = heads
                elif _holds_parameters(child):
                    tag(child, "ffn")
    for name, module in model.named_modules():
        if id(module) in inside or not name:
            continue
        last = name.rsplit(".", 1)[-1]
        if last in HEAD_NAMES and getattr(module, ROLE_ATTR, None) is None:
            tag(module, "head")
        elif isinstance(module, nn.Embedding) and getattr(module, ROLE_ATTR, None) is None:
            tag(module, "embedding")
        elif _is_norm(module):
            tag(module, "norm")
    return model


def _children(layer: nn.Module):
    """A layer's parts: its children, looking through ModuleLists (T5's ``layer`` list of sub-layers)."""
    for child in layer.children():
        if isinstance(child, nn.ModuleList):
            yield from child
        else:
            yield child


def _heads_of(model: nn.Module) -> int:
    config = getattr(model, "config", None)
    for key in ("num_attention_heads", "n_head", "num_heads"):
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    return 1


_ACTIVATIONS = (nn.GELU, nn.ReLU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Mish, nn.LeakyReLU, nn.ELU)


def _is_activation(module: nn.Module) -> bool:
    return isinstance(module, _ACTIVATIONS) or type(module).__name__.endswith("Activation")


def add_probe_hooks(model: nn.Module) -> None:
    """Forward hooks through which a probe sees the model (they do nothing unless it is being probed): each
    attention module's softmax (the eager attention returns it) and each feed-forward's first activation."""
    for module in model.modules():
        if getattr(module, ROLE_ATTR, None) == "attention" and hasattr(module, "zc_heads"):
            owner = module

            def keep_probs(_, __, output, owner=owner):
                probe = getattr(owner, PROBE_ATTR, None)
                if probe is not None and "probs" not in probe and isinstance(output, tuple):
                    weights = next((o for o in output[1:] if torch.is_tensor(o) and o.dim() == 4), None)
                    if weights is not None:
                        probe["probs"] = weights
            for inner in module.modules():
                if inner is not module and isinstance(inner, nn.Module) and "attention" in type(inner).__name__.lower():
                    inner.register_forward_hook(keep_probs)
            module.register_forward_hook(keep_probs)
    for stack in _layer_lists(model):
        for layer in stack:
            attention = {id(m) for child in _children(layer) if getattr(child, ROLE_ATTR, None) == "attention"
                         for m in child.modules()}
            act = next((m for m in layer.modules() if _is_activation(m) and id(m) not in attention), None)
            if act is None:
                continue
            owner = next(m for m in layer.modules() if any(c is act for c in m.children()))
            owner.zc_probe_ffn = True
            act.register_forward_hook(lambda _, __, output, owner=owner: _record_ffn(owner, output))


def _record_ffn(owner: nn.Module, output: torch.Tensor) -> None:
    """Record an FFN's activation as (batch, tokens, width), whatever shape the model computes it in (OPT flattens
    batch and tokens)."""
    probe = getattr(owner, PROBE_ATTR, None)
    if probe is not None and output.dim() == 2 and probe.get("batch"):
        output = output.view(probe["batch"], -1, output.shape[-1])
    record_activation(owner, output)


def seeded_plan(model: nn.Module, seed: int, std: float) -> dict[str, InitKey | float]:
    """How each parameter (tied ones once) is initialised: norms 1/0, biases 0, every other weight N(0, std) drawn
    from (seed, name, shape) - ``seeding``'s common random numbers."""
    plan: dict[str, InitKey | float] = {}
    owners = {id(p): m for m in model.modules() for p in m.parameters(recurse=False)}
    for name, param in model.named_parameters():
        module = owners[id(param)]
        last = name.rsplit(".", 1)[-1]
        if _is_norm(module):
            plan[name] = 1.0 if last == "weight" else 0.0
        elif "bias" in last:
            plan[name] = 0.0
        else:
            plan[name] = InitKey(int(seed), name, tuple(param.shape), float(std))
    return plan


def build(config: dict[str, Any], builder: str = "seeded", seed: int = 0,
          device: str | torch.device = "cpu") -> nn.Module:
    """A seeded model of one architecture, its modules tagged, its probe hooks in place (see the module docstring);
    on the meta device, structure only."""
    hf = hf_config(config)
    cls = model_class(config)
    std = float(getattr(hf, "initializer_range", None) or getattr(hf, "initializer_factor", None) or DEFAULT_STD)
    if torch.device(device).type == "meta":
        with torch.device("meta"):
            model = cls.from_config(hf)
    else:
        with _without_default_init():
            model = cls.from_config(hf)
        model.to(device)
    model.zc_init = seeded_plan(model, seed, std)
    if torch.device(device).type != "meta":
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, how in model.zc_init.items():
                if isinstance(how, InitKey):
                    params[name].copy_(draw(how))
                else:
                    params[name].fill_(how)
    tag_model(model)
    model.zc_parameter_counts = parameter_counts(model)   # every parameter placed once, or a clear error
    add_probe_hooks(model)
    model.zc_task = config["task"]
    model.eval()
    return model


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Total, non-embedding, attention and FFN parameters of a built model, from its decomposition, checked against
    ``model.num_parameters()`` (a parameter counted twice or missed would bias every role's statistics)."""
    tensors = decompose(model)
    total = sum(t.numel for t in tensors)
    expected = model.num_parameters() if hasattr(model, "num_parameters") else sum(p.numel() for p in
                                                                                   model.parameters())
    if total != expected:
        raise DataError(f"the decomposition of this {type(model).__name__} counts {total:,} parameters, the model "
                        f"{expected:,}")
    by_role = {role: sum(t.numel for t in tensors if t.role == role) for role in ("embedding", "head", "attention",
                                                                                  "ffn")}
    return {"total": total, "nonembedding": total - by_role["embedding"] - by_role["head"],
            "attention": by_role["attention"], "ffn": by_role["ffn"]}


# --- probing -----------------------------------------------------------------------------------------------------

def _hidden_of(output) -> torch.Tensor:
    for name in ("decoder_hidden_states", "hidden_states"):
        states = getattr(output, name, None)
        if states:
            return states[-1]
    raise ValueError("the model returned no hidden states")


def task_loss(model, ids, labels, seed):
    """(final hidden states, the model's own task loss on the probe batch): the next-token loss (causal-lm; a
    seq2seq model predicts the batch as its target), the loss at a seeded 15% of positions masked out (masked-lm),
    or the classification loss of seeded labels (sequence-classification)."""
    task = getattr(model, "zc_task", "causal-lm")
    if task == "masked-lm":
        from ..text import mask_positions
        chosen = mask_positions(ids.shape, int(seed) + 3).to(ids.device)
        mask_id = getattr(model.config, "mask_token_id", None)
        inputs = ids.masked_fill(chosen, mask_id if isinstance(mask_id, int) else 0)
        output = model(input_ids=inputs, labels=ids.masked_fill(~chosen, -100), output_hidden_states=True)
    elif task == "sequence-classification":
        classes = labels.long() % int(model.config.num_labels)
        output = model(input_ids=ids, labels=classes, output_hidden_states=True)
    else:
        output = model(input_ids=ids, labels=ids, output_hidden_states=True)
    return _hidden_of(output), output.loss


def hidden_states(model, ids) -> torch.Tensor:
    """The final hidden states of a probe batch (what synflow reads out)."""
    kwargs = {"decoder_input_ids": ids} if getattr(model.config, "is_encoder_decoder", False) else {}
    return _hidden_of(model(input_ids=ids, output_hidden_states=True, **kwargs))


def head_logits(model, hidden):
    """The output head's logits of final hidden states (language-model tasks), for LPZero's synflow."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None:
        raise ValueError("this model has no language-model head")
    return head(hidden).reshape(-1, head.out_features)


def probe_seq(config: dict[str, Any], requested: int | None) -> int:
    """Tokens per probe sequence: as asked, else 128, within the model's positions."""
    hf = config["hf"]
    limit = next((hf[k] for k in ("max_position_embeddings", "n_positions", "n_ctx") if isinstance(hf.get(k), int)),
                 None)
    seq = requested or 128
    # two positions spare: RoBERTa-style models number positions from their padding id + 1
    return min(seq, limit - 2) if limit and limit > 4 else seq


def vocab_size(config: dict[str, Any]) -> int:
    """The config's vocabulary: the token ids the probe draws from."""
    value = config["hf"].get("vocab_size")
    if not isinstance(value, int) or value < 2:
        raise DataError("the config has no vocab_size; the probe draws token ids from it")
    return value


FAMILY = BenchmarkFamily(
    **FAMILY_FACTS["hf"].fields(),
    load=load_folder,
    build=build,
    vocab_size=vocab_size,
    probe_shape=(16, 128),
    probe_seq=probe_seq,
    task_loss=task_loss,
    input_embedding=lambda model: (model.get_encoder() if getattr(model.config, "is_encoder_decoder", False)
                                   else model).get_input_embeddings(),
    head_logits=head_logits,
    hidden=hidden_states,
    digest_patterns=("benchmark.yaml", "results.csv", "configs/*.json"),
)

__all__ = ["FAMILY", "TASKS", "build", "check_config", "load_folder", "parameter_counts", "read_spec", "tag_model"]
