"""Model builders reproduce the parameter counts of the code that trained (or was used to score) each benchmark."""
import pytest
import torch

from discover import UnknownNameError, build_model
from discover.benchmarks.flexibert.model import build_flexibert
from discover.benchmarks.lts_gpt2 import GPT2Model, build_gpt2
from primitives.decompose import decompose


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def meta_flexibert(config, builder):
    """The same module tree, built on the meta device: counts without drawing 10M random numbers per model."""
    from discover.benchmarks.flexibert.model import FlexiBertModel, _layers
    with torch.device("meta"):
        hidden, layers, ops = _layers(config, builder)
        return FlexiBertModel(hidden, layers, ops, builder)


def linear(a, b):
    return a * b + b


EMBEDDINGS_128 = 30522 * 128 + 512 * 128 + 2 * 128 + 2 * 128


def as_trained_count(config):
    """Closed form of the TensorFlow training code: MHSA everywhere, FFN H -> 4H -> (nff-1) x F -> H."""
    h = config["hidden_size"]
    total = EMBEDDINGS_128 + (linear(128, h) if h != 128 else 0)
    for layer in config["layers"]:
        widths = [h, 4 * h] + [layer["feed_forward_dimension"]] * (layer["num_feed_forward"] - 1) + [h]
        total += 4 * linear(h, h) + 2 * h + sum(linear(a, b) for a, b in zip(widths, widths[1:])) + 2 * h
    return total


# The per-component counts published for the legacy builder.
LEGACY = {("SA", "SDP"): 263_680, ("SA", "WMA"): 329_216, ("LT", "DFT"): 65_792, ("LT", "DCT"): 65_792,
          ("DSC", 5, 2): 232_709, ("DSC", 5, 4): 233_354, ("DSC", 9, 2): 234_249, ("DSC", 9, 4): 235_410}


def legacy_count(config):
    total = 4_005_888
    for layer in config["layers"]:
        key = (layer["operation_type"], layer["operation_parameter"])
        if layer["operation_type"] == "DSC":
            key += (layer["num_operation_heads"],)
        total += LEGACY[key] + 526_080 + 1_049_600 * (layer["num_feed_forward"] - 1)
    return total


@pytest.mark.parametrize("builder, expected", [
    ("as-trained", {"0": 10_576_896, "5": 5_585_408, "123": 11_363_328}),
    ("legacy", {"0": 13_330_176, "5": 5_356_549, "123": 10_908_311}),
])
def test_published_flexibert_totals(flexibert, builder, expected):
    for arch_id, count in expected.items():
        assert n_params(build_model(flexibert, arch_id, builder)) == count


@pytest.mark.parametrize("builder, closed_form", [("as-trained", as_trained_count), ("legacy", legacy_count)])
def test_all_500_flexibert_counts(flexibert, builder, closed_form):
    wrong = [a.id for a in flexibert.archs if n_params(meta_flexibert(a.config, builder)) != closed_form(a.config)]
    assert wrong == []


def spec_layer(op, param, heads=4, hidden=256, ffn=512, nff=1):
    return {"hidden_size": hidden, "layers": [{"operation_type": op, "operation_parameter": param,
                                               "num_operation_heads": heads, "feed_forward_dimension": ffn,
                                               "num_feed_forward": nff}]}


def test_spec_builder_follows_the_labels():
    h, f = 128, 512
    ffn = linear(h, f) + linear(f, f) + linear(f, h) + 2 * h
    base = EMBEDDINGS_128 + ffn
    block_out = linear(h, h) + 2 * h
    sa = n_params(meta_flexibert(spec_layer("SA", "SDP", 2, h, f, 2), "spec"))
    assert sa == base + 3 * linear(h, h) + block_out
    wma = n_params(meta_flexibert(spec_layer("SA", "WMA", 2, h, f, 2), "spec"))
    assert wma == sa + h * h
    lt = n_params(meta_flexibert(spec_layer("LT", "DCT", 2, h, f, 2), "spec"))
    assert lt == base + linear(h, h) + block_out  # input projection + output dense, no Q/K/V
    # DSC with 4 heads: 2 attention heads of width 32 (64 in all) + a conv branch of width 64
    dsc = n_params(meta_flexibert(spec_layer("DSC", 9, 4, h, f, 2), "spec"))
    width = 64
    conv = 9 * h + h * width + width + linear(width, 2 * 9) + linear(h, width)
    assert dsc == base + 3 * linear(h, width) + conv + block_out


def test_layer_ops_record_what_was_built(flexibert):
    arch = flexibert.arch("0")
    as_trained = build_model(flexibert, arch, "as-trained").layer_ops
    spec = build_model(flexibert, arch, "spec").layer_ops
    assert [op["operation"] for op in as_trained] == ["SA"] * 4
    assert [op["operation"] for op in spec] == ["SA", "LT", "SA", "SA"]
    assert as_trained[0]["ffn_widths"] == [256, 1024, 1024, 1024, 256]
    assert spec[0]["ffn_widths"] == [256, 1024, 1024, 1024, 256] and spec[1]["ffn_widths"] == [256, 512, 512, 512, 256]


def test_gpt2_counts_match_params_summary_for_all_200(gpt2):
    parts = {"AdaEmb": ("embedding",), "Attn": ("attention",), "FFN": ("ffn",), "total": None}
    wrong = []
    for arch in gpt2.archs:
        with torch.device("meta"):
            model = GPT2Model(arch.config)
        tensors = decompose(model)
        for key, roles in parts.items():
            got = sum(t.numel for t in tensors if roles is None or t.role in roles)
            if got != arch.metrics[f"params_{key}"]:
                wrong.append((arch.id, key, got, arch.metrics[f"params_{key}"]))
        nonembedding = sum(t.numel for t in tensors if t.role in ("attention", "ffn", "norm"))
        if nonembedding != arch.metrics["params_nonembedding"]:
            wrong.append((arch.id, "nonembedding", nonembedding))
    assert wrong == []


def test_gpt2_built_model_counts_and_loss(gpt2):
    arch = gpt2.arch("config_0_j0")
    model = build_model(gpt2, arch)
    assert n_params(model) == arch.metrics["params_total"] == 8_505_006
    ids = torch.randint(0, arch.config["n_token"], (2, 16), generator=torch.Generator().manual_seed(0))
    loss = model.lm_loss(ids)
    assert torch.isfinite(loss) and loss.item() > 0


def test_gpt2_d_embed_minus_one_builds(tmp_path):
    from tests.test_loaders import GPT2, lts_folder
    from discover import load_benchmark
    bench = load_benchmark(f"lts-gpt2:{lts_folder(tmp_path, [GPT2, {**GPT2, 'div_val': 1}])}")
    for arch in bench.archs:
        model = build_model(bench, arch)
        assert model.word_emb.emb_layers[0].embedding_dim == 32
        hidden = model(torch.randint(0, 500, (2, 8)))
        assert hidden.shape == (2, 8, 32)
        assert torch.isfinite(model.lm_loss(torch.randint(0, 500, (2, 9))))


def test_gpt2_adaptive_softmax_is_a_distribution_over_the_vocabulary(tmp_path):
    from tests.test_loaders import GPT2, lts_folder
    from discover import load_benchmark
    bench = load_benchmark(f"lts-gpt2:{lts_folder(tmp_path, [GPT2, {**GPT2, 'div_val': 1}])}")
    for arch in bench.archs:
        model = build_model(bench, arch)
        assert model.crit.n_clusters >= 1
        every_word = torch.arange(arch.config["n_token"])
        hidden = torch.randn(1, 32, generator=torch.Generator().manual_seed(3)).expand(len(every_word), 32)
        with torch.no_grad():
            probabilities = torch.exp(-model.crit(hidden, every_word).double())
        assert float(probabilities.sum()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("builder", ["as-trained", "spec", "legacy"])
def test_every_operation_runs_forward(builder):
    ids = torch.randint(0, 30522, (2, 12), generator=torch.Generator().manual_seed(1))
    for op, param in [("SA", "SDP"), ("SA", "WMA"), ("LT", "DFT"), ("LT", "DCT"), ("DSC", 5), ("DSC", 9)]:
        for heads in (2, 4):
            model = build_flexibert(spec_layer(op, param, heads), builder)
            out = model(ids)
            hidden = 256
            assert out.shape == (2, 12, hidden) and torch.isfinite(out).all(), (op, param, heads)


def test_seeded_and_deterministic(flexibert):
    a, b = build_model(flexibert, "7", seed=3), build_model(flexibert, "7", seed=3)
    c = build_model(flexibert, "7", seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.layers[0].ffn.dense[0].weight, c.layers[0].ffn.dense[0].weight)


def test_initialised_like_the_original_code(flexibert):
    model = build_model(flexibert, "0", "spec")
    word = model.embeddings.word_embeddings.weight
    assert abs(word.std().item() - 0.02) < 1e-3 and abs(word.mean().item()) < 1e-3
    assert torch.all(model.layers[0].ffn.dense[0].bias == 0)
    assert torch.all(model.layers[0].ffn.LayerNorm.weight == 1)


def test_gpt2_residual_projections_scaled(gpt2):
    arch = gpt2.arch("config_0_j1")
    model = build_gpt2(arch.config)
    n_layer = arch.config["n_layer"]
    std = model.blocks[0].attn.c_proj.weight.std().item()
    assert std == pytest.approx(0.02 / (2 * n_layer) ** 0.5, rel=0.05)
    assert model.word_emb.emb_projs[0].std().item() == pytest.approx(0.01, rel=0.05)


def test_unknown_builder_suggests(flexibert, gpt2):
    with pytest.raises(UnknownNameError, match="Did you mean 'legacy'"):
        build_model(flexibert, "0", "legasy")
    with pytest.raises(UnknownNameError, match="builder for the gpt2 family"):
        build_model(gpt2, "config_0_j0", "spec")


def test_shrinking_the_draw_cache_keeps_the_most_recent_draws():
    from discover.benchmarks import seeding as init
    init.clear_draw_cache()
    keys = [init.InitKey(0, f"w{i}", (256, 256), 0.02) for i in range(4)]   # 256 KiB each
    for key in keys:
        init.draw(key)
    init.draw(keys[0])                      # used again: now the most recent
    init.shrink_draw_cache(2 * 256 * 1024)
    assert list(init._draws) == [keys[3], keys[0]] and init._cached_bytes == 2 * 256 * 1024
    assert torch.equal(init.draw(keys[1]), init.draw(keys[1], cache=False))   # evicted draws come back identical
    init.clear_draw_cache()
