"""LoNAS-style elastic sub-networks of a pretrained encoder (issue #29).

LoNAS (Munoz et al., 2024) trains one weight-sharing *super-adapter* on a frozen pretrained model: LoRA adapters
whose rank is elastic, on a base whose width is elastic, sampling a sub-network at every training step, so that
every sub-network of the space can be read out of the one set of trained weights. Here the base is this project's
masked-LM encoder (``pruning.reference.ENCODER_MODELS``), frozen; the adapters are ``peft`` LoRA layers of the
largest rank on every attention projection (query, key, value, output) and both FFN projections of every layer; a
sub-network chooses, per layer,

- the LoRA rank of that layer's adapters (the first ``r`` of the largest rank's components: the rest are masked off
  at the output of each ``lora_A``, so they neither act nor learn while it trains),
- the FFN width (the first ``w`` channels of the intermediate layer; the others are masked after the activation,
  which is exactly removing them: their output weights then receive zero input), and
- the attention heads kept (the first ``h``; the others' outputs are masked before the output projection: head
  pruning).

A sentence is read by mean-pooling the last hidden states over its tokens, and a linear head (trained with the
adapters) gives its label. ``SubNetwork`` names a choice in one string (``SubNetwork.name``) that parses back, so a
sub-network is reconstructible from the super-adapter's weights and its name alone - nothing is pickled.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError

# LoRA on every attention projection and both FFN projections (BERT and RoFormer name them alike)
LORA_TARGETS = r".*\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)$"
ADAPTER = "default"


@dataclass(frozen=True)
class ElasticSpace:
    """The choices per layer: LoRA ranks, and FFN width and attention heads as fractions of the base's."""

    ranks: tuple[int, ...] = (4, 8, 16)
    ffn_fractions: tuple[float, ...] = (0.5, 0.75, 1.0)
    head_fractions: tuple[float, ...] = (0.5, 0.75, 1.0)

    def __post_init__(self):
        if not self.ranks or min(self.ranks) < 1:
            raise ConfigError(f"elastic ranks must be whole numbers >= 1, not {self.ranks}")
        for name, values in (("ffn_fractions", self.ffn_fractions), ("head_fractions", self.head_fractions)):
            if not values or min(values) <= 0 or max(values) > 1:
                raise ConfigError(f"elastic {name} must lie in (0, 1], not {values}")

    @property
    def max_rank(self) -> int:
        """The largest LoRA rank: the adapters' stored size."""
        return max(self.ranks)

    def choices(self, config: dict[str, Any]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """The concrete choices for a base ``config``: ranks, FFN channel counts, head counts (sorted, distinct)."""
        ffn, heads = config["intermediate_size"], config["num_attention_heads"]
        return (tuple(sorted(set(self.ranks))),
                tuple(sorted({max(1, round(f * ffn)) for f in self.ffn_fractions})),
                tuple(sorted({max(1, round(f * heads)) for f in self.head_fractions})))


@dataclass(frozen=True)
class SubNetwork:
    """One sub-network: per layer, the LoRA rank, the FFN channels kept and the attention heads kept."""

    ranks: tuple[int, ...]
    ffn: tuple[int, ...]
    heads: tuple[int, ...]

    @property
    def name(self) -> str:
        """``r16.8.4-f1024.512.768-h4.2.3``: the whole choice, readable and parsed back by ``parse``."""
        return "-".join(key + ".".join(map(str, values))
                        for key, values in (("r", self.ranks), ("f", self.ffn), ("h", self.heads)))

    @classmethod
    def parse(cls, name: str) -> "SubNetwork":
        """The sub-network a ``name`` spells; anything else is refused with what a name looks like."""
        match = re.fullmatch(r"r([\d.]+)-f([\d.]+)-h([\d.]+)", name)
        if not match:
            raise ConfigError(f"{name!r} is not a sub-network name (like r16.8-f1024.512-h4.2: per layer the LoRA "
                              "rank, FFN channels and heads)")
        parts = [tuple(int(v) for v in group.split(".")) for group in match.groups()]
        if len({len(p) for p in parts}) != 1:
            raise ConfigError(f"sub-network {name!r}: its ranks, FFN widths and heads name different numbers of "
                              "layers")
        return cls(*parts)

    @property
    def layers(self) -> int:
        """How many layers the sub-network has (the base's)."""
        return len(self.ranks)

    def check(self, space: ElasticSpace, config: dict[str, Any]) -> "SubNetwork":
        """This sub-network, after checking that every choice is one of ``space`` on a base of ``config``."""
        if self.layers != config["num_hidden_layers"]:
            raise ConfigError(f"sub-network {self.name} has {self.layers} layers; the base has "
                              f"{config['num_hidden_layers']}")
        for what, values, allowed in zip(("rank", "FFN width", "heads"), (self.ranks, self.ffn, self.heads),
                                         space.choices(config)):
            bad = [v for v in values if v not in allowed]
            if bad:
                raise ConfigError(f"sub-network {self.name}: {what} {bad[0]} is not one of the space's {allowed}")
        return self


def largest(space: ElasticSpace, config: dict[str, Any]) -> SubNetwork:
    """The super-network: every choice at its largest."""
    ranks, ffn, heads = space.choices(config)
    layers = config["num_hidden_layers"]
    return SubNetwork((ranks[-1],) * layers, (ffn[-1],) * layers, (heads[-1],) * layers)


def smallest(space: ElasticSpace, config: dict[str, Any]) -> SubNetwork:
    """Every choice at its smallest."""
    ranks, ffn, heads = space.choices(config)
    layers = config["num_hidden_layers"]
    return SubNetwork((ranks[0],) * layers, (ffn[0],) * layers, (heads[0],) * layers)


def random_subnetwork(space: ElasticSpace, config: dict[str, Any], rng: np.random.Generator) -> SubNetwork:
    """A sub-network with every choice drawn uniformly and independently per layer (LoNAS's sampling)."""
    layers = config["num_hidden_layers"]
    return SubNetwork(*(tuple(int(v) for v in rng.choice(options, layers)) for options in space.choices(config)))


def sample_subnetworks(space: ElasticSpace, config: dict[str, Any], count: int, seed: int) -> list[SubNetwork]:
    """``count`` distinct sub-networks drawn by a generator seeded by ``seed``, largest and smallest first (the
    space's two ends belong in every benchmark of it)."""
    ranks, ffn, heads = space.choices(config)
    size = (len(ranks) * len(ffn) * len(heads)) ** config["num_hidden_layers"]
    if count > size:
        raise ConfigError(f"the space holds {size:,} sub-networks; {count:,} distinct ones cannot be drawn")
    out = {s.name: s for s in (largest(space, config), smallest(space, config))}
    rng = np.random.default_rng(seed)
    while len(out) < count:
        sub = random_subnetwork(space, config, rng)
        out.setdefault(sub.name, sub)
    return list(out.values())[:count]


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The mean of each sentence's last hidden states over its tokens (padding left out): what the head reads."""
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)


class ElasticEncoder(nn.Module):
    """A frozen encoder with a LoNAS super-adapter and a sentence-classification head; ``use(sub)`` selects the
    sub-network every later forward pass computes.

    Parameters
    ----------
    base : transformers model
        The encoder's base model (``BertModel``, ``RoFormerModel``: a masked LM's ``base_model``); its own weights
        are frozen.
    num_labels : int
    space : ElasticSpace
    seed : int
        Seeds the adapters' and the head's initialisation (LoRA's B starts at zero: the super-network starts as the
        base).
    """

    def __init__(self, base: nn.Module, num_labels: int, space: ElasticSpace = ElasticSpace(), seed: int = 0):
        super().__init__()
        from peft import LoraConfig, inject_adapter_in_model
        self.space = space
        self.config = base.config.to_dict()
        for p in base.parameters():
            p.requires_grad_(False)
        torch.manual_seed(seed)
        lora = LoraConfig(r=space.max_rank, lora_alpha=space.max_rank, lora_dropout=0.0,
                          target_modules=LORA_TARGETS)
        self.base = inject_adapter_in_model(lora, base, adapter_name=ADAPTER)
        self.head = nn.Linear(self.config["hidden_size"], num_labels)
        self._masks: list[tuple[str, torch.Tensor]] = []
        self._register_masks()
        self.sub = largest(space, self.config)
        self.use(self.sub)

    def _register_masks(self) -> None:
        # the hooks read the masks of ``use`` from ``self._active`` at call time, so they follow the model's device
        self._active: dict[tuple[str, int], torch.Tensor] = {}
        for index, layer in enumerate(self.base.encoder.layer):
            for module in (layer.attention.self.query, layer.attention.self.key, layer.attention.self.value,
                           layer.attention.output.dense, layer.intermediate.dense, layer.output.dense):
                module.lora_A[ADAPTER].register_forward_hook(self._scale_output(("rank", index)))
            layer.intermediate.register_forward_hook(self._scale_output(("ffn", index)))
            layer.attention.output.dense.register_forward_pre_hook(self._scale_input(("heads", index)))

    def _scale_output(self, key):
        def hook(module, inputs, output):
            return output * self._active[key]
        return hook

    def _scale_input(self, key):
        def hook(module, inputs):
            return (inputs[0] * self._active[key], *inputs[1:])
        return hook

    def use(self, sub: SubNetwork) -> "ElasticEncoder":
        """Compute sub-network ``sub`` from now on (checked against the space)."""
        sub.check(self.space, self.config)
        device = self.head.weight.device
        head_size = self.config["hidden_size"] // self.config["num_attention_heads"]
        sizes = {"rank": self.space.max_rank, "ffn": self.config["intermediate_size"],
                 "heads": self.config["hidden_size"]}
        for index in range(sub.layers):
            kept = {"rank": sub.ranks[index], "ffn": sub.ffn[index], "heads": sub.heads[index] * head_size}
            for key, size in sizes.items():
                mask = torch.zeros(size, device=device)
                mask[:kept[key]] = 1
                self._active[key, index] = mask
        self.sub = sub
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Class logits of a batch of padded sentences."""
        hidden = self.base(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(mean_pool(hidden, attention_mask))

    def adapter_state(self) -> dict[str, torch.Tensor]:
        """What training changed (the adapters and the head), by name: the super-adapter's weights file."""
        return {name: p.detach().contiguous() for name, p in self.named_parameters() if p.requires_grad}

    def load_adapter_state(self, state: dict[str, torch.Tensor]) -> None:
        """Put a super-adapter's weights in place; names or shapes that differ from this space's are refused."""
        expected = {name: p for name, p in self.named_parameters() if p.requires_grad}
        if set(state) != set(expected):
            missing = sorted(set(expected) - set(state)) or sorted(set(state) - set(expected))
            raise ConfigError(f"the super-adapter's tensors differ from this space's (first: {missing[0]!r}); it "
                              "was trained for another base or space")
        with torch.no_grad():
            for name, p in expected.items():
                if tuple(state[name].shape) != tuple(p.shape):
                    raise ConfigError(f"super-adapter tensor {name!r} has shape {list(state[name].shape)}, this "
                                      f"space builds {list(p.shape)}")
                p.copy_(state[name])



def _merged(module: nn.Module, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A LoRA-wrapped linear layer's weight with its first ``rank`` components merged in, and its bias."""
    base = module.base_layer
    a, b = module.lora_A[ADAPTER].weight[:rank], module.lora_B[ADAPTER].weight[:, :rank]
    return base.weight + module.scaling[ADAPTER] * (b @ a), base.bias


def _linear(weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer


@torch.no_grad()
def materialize(model: ElasticEncoder, sub: SubNetwork) -> nn.Module:
    """Sub-network ``sub`` as a plain encoder of its own size: each layer's adapters merged into its weights at the
    layer's rank, the heads and FFN channels it leaves out cut from the matrices (no masks, no LoRA). Its weight
    statistics are those of the sub-network, and with ``model.head`` on its mean-pooled output it computes what
    ``model.use(sub)`` does (tested)."""
    import copy
    sub.check(model.space, model.config)
    state = {name.replace(".base_layer.", "."): value for name, value in model.base.state_dict().items()
             if "lora_" not in name}
    plain = type(model.base)(copy.deepcopy(model.base.config))
    plain.load_state_dict(state)
    plain.eval()
    head_size = model.config["hidden_size"] // model.config["num_attention_heads"]
    for index, (layer, elastic) in enumerate(zip(plain.encoder.layer, model.base.encoder.layer)):
        rank, width, kept = sub.ranks[index], sub.ffn[index], sub.heads[index] * head_size
        attention, source = layer.attention.self, elastic.attention.self
        for name in ("query", "key", "value"):
            weight, bias = _merged(getattr(source, name), rank)
            setattr(attention, name, _linear(weight[:kept], bias[:kept]))
        attention.num_attention_heads, attention.all_head_size = sub.heads[index], kept
        weight, bias = _merged(elastic.attention.output.dense, rank)
        layer.attention.output.dense = _linear(weight[:, :kept], bias)
        weight, bias = _merged(elastic.intermediate.dense, rank)
        layer.intermediate.dense = _linear(weight[:width], bias[:width])
        weight, bias = _merged(elastic.output.dense, rank)
        layer.output.dense = _linear(weight[:, :width], bias)
    return plain


class SubNetworkClassifier(nn.Module):
    """One sub-network as a plain sentence classifier: its ``materialize``-d encoder, mean pooling and the super-
    adapter's head. It computes what ``ElasticEncoder.use(sub)`` does (tested) without the masks and the LoRA
    detour, and at the sub-network's own width: what the clean and attacked evaluations run."""

    def __init__(self, model: ElasticEncoder, sub: SubNetwork):
        super().__init__()
        import copy
        self.sub = sub
        self.encoder = materialize(model, sub)
        self.head = copy.deepcopy(model.head)
        self.eval()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Class logits of a batch of padded sentences."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(mean_pool(hidden, attention_mask))
