"""Decomposition of zc-discover's own models and of Hugging Face style modules."""
import pytest
from torch import nn

from primitives import tag
from primitives.decompose import decompose


class HFSelf(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)


class HFAttention(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.self = HFSelf(h)
        self.output = nn.Module()
        self.output.dense = nn.Linear(h, h)
        self.output.LayerNorm = nn.LayerNorm(h)


class HFLayer(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.attention = HFAttention(h)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(h, 4 * h)
        self.output = nn.Module()
        self.output.dense = nn.Linear(4 * h, h)
        self.output.LayerNorm = nn.LayerNorm(h)


class HFBert(nn.Module):
    """The module names of transformers' BertModel, without the dependency."""

    def __init__(self, h=16, layers=2):
        super().__init__()
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(100, h)
        self.embeddings.LayerNorm = nn.LayerNorm(h)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(HFLayer(h) for _ in range(layers))
        self.pooler = nn.Module()
        self.pooler.dense = nn.Linear(h, h)


def test_hugging_face_bert_names():
    tensors = {t.name: t for t in decompose(HFBert())}
    assert tensors["embeddings.word_embeddings.weight"].role == "embedding"
    assert tensors["encoder.layer.1.attention.self.query.weight"].role == "attention"
    assert tensors["encoder.layer.1.attention.self.query.weight"].layer == 1
    assert tensors["encoder.layer.0.attention.output.dense.weight"].role == "attention"
    assert tensors["encoder.layer.0.intermediate.dense.weight"].role == "ffn"
    assert tensors["encoder.layer.0.output.dense.weight"].role == "ffn"
    assert tensors["encoder.layer.0.output.LayerNorm.weight"].role == "norm"
    assert tensors["pooler.dense.weight"].role == "head"
    assert tensors["encoder.layer.0.output.dense.bias"].kind == "bias"


def test_hugging_face_gpt2_names():
    model = nn.Module()
    model.transformer = nn.Module()
    model.transformer.wte = nn.Embedding(50, 8)
    model.transformer.h = nn.ModuleList([nn.Module()])
    block = model.transformer.h[0]
    block.ln_1, block.attn, block.mlp = nn.LayerNorm(8), nn.Module(), nn.Module()
    block.attn.c_attn, block.mlp.c_fc = nn.Linear(8, 24), nn.Linear(8, 32)
    roles = {t.name: (t.role, t.layer) for t in decompose(model)}
    assert roles["transformer.wte.weight"] == ("embedding", None)
    assert roles["transformer.h.0.attn.c_attn.weight"] == ("attention", 0)
    assert roles["transformer.h.0.mlp.c_fc.weight"] == ("ffn", 0)
    assert roles["transformer.h.0.ln_1.weight"] == ("norm", 0)


def test_unplaceable_parameter_is_listed():
    model = nn.Module()
    model.mystery = nn.Linear(3, 3)
    with pytest.raises(ValueError, match=r"mystery.weight \(3, 3\).*primitives.tag"):
        decompose(model)


def test_tags_override_names_and_tied_weights_counted_once():
    model = nn.Module()
    model.mystery = tag(nn.Linear(3, 3), "ffn", layer=2)
    model.tied = nn.Linear(3, 3)
    model.tied.weight = model.mystery.weight
    tag(model.tied, "head")
    tensors = decompose(model)
    assert [(t.name, t.role, t.layer) for t in tensors][0] == ("mystery.weight", "ffn", 2)
    assert sum(t.numel for t in tensors) == 9 + 3 + 3


def test_conv_kernels_flatten_to_matrices():
    model = tag(nn.Conv1d(4, 6, 5), "mixing")
    (weight, bias) = decompose(model)
    assert weight.kind == "conv" and weight.matrix().shape == (6, 20) and bias.matrix() is None


def test_every_parameter_of_every_builder_is_placed(flexibert, gpt2):
    from discover import build_model
    for bench, arch_id, builders in [(flexibert, "1", ("as-trained", "spec", "legacy")), (gpt2, "config_3_j3", (None,))]:
        for builder in builders:
            model = build_model(bench, arch_id, builder)
            tensors = decompose(model)
            assert sum(t.numel for t in tensors) == sum(p.numel() for p in model.parameters())
            layered = {t.layer for t in tensors if t.role in ("attention", "ffn", "mixing")}
            assert None not in layered
