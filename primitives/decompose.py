"""A torch model -> its parameters, each tagged with layer index, role and kind.

Models built by zc-discover carry explicit tags (``primitives.roles.tag``). Other models are placed by the module
names Hugging Face's BERT and GPT-2 use. A parameter that cannot be placed is an error that lists it: a silently
dropped tensor would bias every statistic summed over a role.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from .roles import LAYER_ATTR, ROLE_ATTR

# Checked in order: the first pattern that matches a parameter's full name gives its role.
NAME_PATTERNS = (
    ("norm", re.compile(r"(layernorm|layer_norm|\bln_\w*|(^|\.)ln(\.|$)|\.norm\d*\.)", re.I)),
    ("embedding", re.compile(r"(embeddings?|(^|\.)wte\.|(^|\.)wpe\.|embed_tokens|embed_positions)", re.I)),
    ("mixing", re.compile(r"(fourier|\.conv|dct|dft|token_mixing)", re.I)),
    ("attention", re.compile(r"(attention|\.attn\.|self_attn|crossattention)", re.I)),
    ("ffn", re.compile(r"(intermediate|\.mlp\.|\.ffn\.|feed_forward|\.output\.dense|\.fc\d)", re.I)),
    ("head", re.compile(r"((^|\.)pooler|(^|\.)cls\.|lm_head|classifier|(^|\.)head\.|qa_outputs)", re.I)),
)
LAYER_PATTERN = re.compile(r"(?:^|\.)(?:layer|layers|h|blocks|block)\.(\d+)(?:\.|$)")


@dataclass(frozen=True)
class TaggedTensor:
    """One parameter of a model and where it sits."""

    name: str
    layer: int | None
    role: str
    kind: str            # linear, embedding, conv, matrix (a bare 2-D parameter), bias, norm, vector
    tensor: torch.Tensor
    transposed: bool = False   # stored (in, out), as Hugging Face's GPT-2 Conv1D does, not nn.Linear's (out, in)

    @property
    def input_width(self) -> int:
        """How many features the layer reads (its weight's second dimension, or the first when ``transposed``)."""
        return int(self.tensor.shape[0] if self.transposed else self.tensor.shape[1])

    @property
    def numel(self) -> int:
        """Number of entries."""
        return self.tensor.numel()

    def matrix(self) -> torch.Tensor | None:
        """The 2-D view used for spectra (conv kernels as out x (in * k)); None for vectors."""
        t = self.tensor.detach()
        if t.dim() < 2:
            return None
        return t.reshape(t.shape[0], -1)


def _kind(module: nn.Module, full_name: str, param: torch.Tensor) -> str:
    if isinstance(module, nn.LayerNorm) or type(module).__name__.lower().endswith(("layernorm", "rmsnorm")):
        return "norm"
    param_name = full_name.rpartition(".")[2]
    if any("bias" in part for part in full_name.split(".")[-2:]):  # also ParameterList entries like out_biases.0
        return "bias"
    if isinstance(module, nn.Embedding):
        return "embedding"
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        return "conv"
    if isinstance(module, nn.Linear) or (param.dim() == 2 and param_name == "weight"):
        return "linear"  # also Hugging Face's GPT-2 Conv1D, a linear layer with a transposed weight
    return "matrix" if param.dim() >= 2 else "vector"


def _role_from_name(name: str) -> str | None:
    for role, pattern in NAME_PATTERNS:
        if pattern.search(name):
            return role
    return None


def decompose(model: nn.Module) -> list[TaggedTensor]:
    """Every parameter of ``model`` once (tied ones once), tagged; raises ValueError listing any it cannot place."""
    context: dict[str, tuple[str | None, int | None]] = {}
    tagged: list[TaggedTensor] = []
    unplaced: list[str] = []
    seen: set[int] = set()
    for module_name, module in model.named_modules():
        parent = context.get(module_name.rpartition(".")[0], (None, None)) if module_name else (None, None)
        role = getattr(module, ROLE_ATTR, None) or parent[0]
        layer = getattr(module, LAYER_ATTR, None)
        context[module_name] = (role, parent[1] if layer is None else layer)
        for param_name, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                continue
            seen.add(id(param))
            full = f"{module_name}.{param_name}" if module_name else param_name
            kind = _kind(module, full, param)
            role_here, layer_here = context[module_name]
            if kind == "norm":
                role_here = "norm"
            elif role_here is None:
                role_here = _role_from_name(full)
            if layer_here is None:
                match = LAYER_PATTERN.search(full)
                layer_here = int(match[1]) if match else None
            if role_here is None:
                unplaced.append(f"{full} {tuple(param.shape)}")
                continue
            tagged.append(TaggedTensor(full, layer_here, role_here, kind, param,
                                       transposed=type(module).__name__ == "Conv1D" and param.dim() == 2))
    if unplaced:
        raise ValueError("cannot tell the role of these parameters: " + "; ".join(unplaced)
                         + ". Tag their modules with primitives.tag(module, role) or name them like Hugging Face's "
                           "BERT/GPT-2 modules.")
    return tagged
