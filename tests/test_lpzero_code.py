"""LPZero's released GPT-2 definitions (``lpzero_*`` proxies), each recomputed by hand the way its code does it:
forward hooks on every linear layer, gradients by autograd, the position table's own gradient."""
import math

import numpy as np
import pytest
import torch

from discover import load_benchmark
from discover.benchmarks import FAMILIES
from discover.benchmarks.flexibert.model import build_flexibert
from discover.probing import ProbeRun, make_batch
from discover.proxies import PROXIES
from tests.test_loaders import GPT2, lts_folder

# d_model 128 reads >= 128 features everywhere but in the first MLP's output projection (d_inner 64)
WIDE = {**GPT2, "d_model": 128, "d_inner": [64, 256], "n_head": [2, 4], "cutoffs": [100, 200, 500], "div_val": 1,
        "tie_projs": [False, True, True]}


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    bench = load_benchmark(f"lts-gpt2:{lts_folder(tmp_path_factory.mktemp('lts'), [WIDE])}")
    model = bench.family.build(bench.archs[0].config, "as-trained", 0)
    batch = make_batch(WIDE["n_token"], 3, 9, seed=0)
    return model, batch, ProbeRun(model, batch, bench.family)


def linear_layers(model):
    return [m for block in model.blocks for m in (block.attn.c_attn, block.attn.c_proj, block.mlp.c_fc,
                                                   block.mlp.c_proj)]


def hooked_outputs_and_grads(model, batch):
    """Every linear layer's output and the language-modelling loss's gradient there, by plain hooks."""
    outputs = []
    hooks = [m.register_forward_hook(lambda m, i, o: outputs.append(o)) for m in linear_layers(model)]
    _, loss = FAMILIES["gpt2"].task_loss(model, batch.ids, batch.labels, batch.seed)
    for h in hooks:
        h.remove()
    return [o.detach() for o in outputs], [g.detach() for g in torch.autograd.grad(loss, outputs)]


def test_every_linear_layer_output_and_its_loss_gradient_are_recorded(gpt2):
    model, batch, run = gpt2
    outputs, grads = hooked_outputs_and_grads(model, batch)
    assert len(run.task["linear_outputs"]) == len(outputs) == 8          # four per block, in model order
    for mine, theirs in zip(run.task["linear_outputs"], outputs):
        torch.testing.assert_close(mine, theirs)
    for mine, theirs in zip(run.task["linear_output_grads"], grads):   # the task loss's, not the Jacobian's
        torch.testing.assert_close(mine, theirs)


def test_confidence_distance_and_fisher_read_every_linear_output_as_lpzero_does(gpt2):
    model, batch, run = gpt2
    outputs, grads = hooked_outputs_and_grads(model, batch)
    confidence = sum(float(torch.mean(torch.max(o, 1)[0])) for o in outputs)
    assert PROXIES["lpzero_attention_confidence"].function(run) == pytest.approx(confidence, rel=1e-6)
    distance = 0.0
    for o in outputs:
        codes = o[0] > 0
        distance += float((codes[:, None, :] == codes[None, :, :]).sum())
    assert PROXIES["lpzero_activation_distance"].function(run) == distance
    fisher = 0.0                  # per channel 0.5 mean over (batch x tokens) rows, spread over the output width
    for o, g in zip(outputs, grads):
        rows = (o * g).reshape(-1, o.shape[-1]).double()
        fisher += float(0.5 * rows.pow(2).mean(0).sum()) * o.shape[-1]
    assert PROXIES["lpzero_fisher"].function(run) == pytest.approx(fisher, rel=1e-5)


def test_head_importance_is_snip_over_matrices_reading_128_features_or_more(gpt2):
    model, batch, run = gpt2
    _, loss = FAMILIES["gpt2"].task_loss(model, batch.ids, batch.labels, batch.seed)
    layers = linear_layers(model)
    grads = torch.autograd.grad(loss, [m.weight for m in layers])
    kept = [float((m.weight.detach() * g).abs().sum()) for m, g in zip(layers, grads) if m.in_features >= 128]
    assert len(kept) == 7                                                # not block 0's MLP c_proj (64 -> 128)
    assert PROXIES["lpzero_head_importance"].function(run) == pytest.approx(sum(kept), rel=1e-5)


def test_synflow_runs_the_absolute_model_on_ones_and_sums_the_head_logits(gpt2):
    model, batch, run = gpt2
    linear = {id(m.weight) for m in linear_layers(model)}
    absolute = {n: p.detach().abs().double().requires_grad_(id(p) in linear) for n, p in model.named_parameters()}
    copy = __import__("copy").deepcopy(model).double()
    with torch.no_grad():
        for n, p in copy.named_parameters():
            p.copy_(absolute[n])
    seq = batch.ids.shape[1]
    x = torch.ones(1, seq, WIDE["d_model"], dtype=torch.float64) + copy.wpe(torch.arange(seq))
    for block in copy.blocks:
        x = block(x)
    copy.crit.head_logits(copy.ln_f(x)[0]).sum().backward()
    layers = linear_layers(copy)
    synflow = sum(float((m.weight * m.weight.grad).abs().sum().detach()) for m in layers)
    logsynflow = sum(float((m.weight * m.weight.grad.abs().log().abs()).sum().detach()) for m in layers)
    assert PROXIES["lpzero_synflow"].function(run) == pytest.approx(synflow, rel=1e-9)
    assert PROXIES["lpzero_logsynflow"].function(run) == pytest.approx(logsynflow, rel=1e-9)
    other = ProbeRun(model, make_batch(WIDE["n_token"], 3, 9, seed=5), FAMILIES["gpt2"])    # other tokens: the
    assert PROXIES["lpzero_synflow"].function(other) == pytest.approx(synflow, rel=1e-9)  # same ones are read


def test_jacobian_cosine_reads_the_position_tables_gradient(gpt2):
    model, batch, run = gpt2
    model.wpe.weight.requires_grad_(True)
    model.zero_grad(set_to_none=True)
    FAMILIES["gpt2"].task_loss(model, batch.ids, batch.labels, batch.seed)[1].backward()
    jacob = model.wpe.weight.grad.T.double().numpy()                     # (features, positions), as LPZero reshapes
    model.zero_grad(set_to_none=True)
    normed = jacob[:, : batch.ids.shape[1] - 1]                          # the positions the model read
    normed = normed / np.linalg.norm(normed, axis=1)[:, None]
    cosines = normed @ normed.T
    np.fill_diagonal(cosines, 0.0)     # sklearn's cosine distances have an exact zero diagonal: 1 - 0 - I there
    d = len(normed)
    expected = 1 - (1 / (d * d - d)) * np.sum(np.abs(cosines.flatten()) ** (1 / 20)) / 2
    assert PROXIES["lpzero_jacobian_cosine"].function(run) == pytest.approx(expected, abs=1e-6)


def test_definitions_that_need_gpt2s_head_or_positions_say_so_elsewhere():
    model = build_flexibert({"hidden_size": 128, "layers": [
        {"operation_type": "SA", "operation_parameter": "SDP", "num_operation_heads": 2,
         "feed_forward_dimension": 64, "num_feed_forward": 1}]}, "legacy")
    run = ProbeRun(model, make_batch(30522, 2, 6, seed=0), FAMILIES["flexibert"])
    with pytest.raises(ValueError, match="output head"):
        PROXIES["lpzero_synflow"].function(run)
    with pytest.raises(ValueError, match="learned position table"):
        PROXIES["lpzero_jacobian_cosine"].function(run)
    for name in ("lpzero_attention_confidence", "lpzero_activation_distance", "lpzero_fisher",
                 "lpzero_head_importance"):
        assert math.isfinite(PROXIES[name].function(run)), name
