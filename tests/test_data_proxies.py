"""Data-dependent proxies: hand-worked cases on crafted probe results, plumbing on tiny real models."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from discover import load_benchmark
from discover.benchmarks.flexibert.model import build_flexibert
from discover.proxies.probe_table import data_proxy_table, probe_arch
from discover.probing.inputs import make_batch
from discover.probing.run import ProbeRun
from discover.probing.settings import ProbeSettings
from discover.benchmarks import FAMILIES
from discover.proxies import PROXIES, probe_proxies
from tests.test_loaders import GPT2, lts_folder

TINY = {"hidden_size": 128, "layers": [{"operation_type": "SA", "operation_parameter": "SDP",
                                         "num_operation_heads": 2, "feed_forward_dimension": 64,
                                         "num_feed_forward": 2}]}


def tiny_run(builder="spec", batch=3, seq=6):
    model = build_flexibert(TINY, builder)
    return ProbeRun(model, make_batch(30522, batch, seq, seed=0), FAMILIES["flexibert"])


class Crafted:
    """A stand-in ProbeRun whose task pass is given, for answers that can be worked out by hand."""

    def __init__(self, **task):
        self.task = task
        self.batch = make_batch(10, batch=task.get("batch", 2), seq=3)
        self.tensors = []

    def weights(self):
        return []

    def shared(self, name, function):
        return function(self)


def score(name, run):
    return PROXIES[name].function(run)


def test_naswot_and_activation_distance_by_hand():
    # two examples whose codes are 101 and 110: Hamming distance 2 of 3
    acts = [torch.tensor([[[1.0, -1.0, 1.0]], [[1.0, 1.0, -1.0]]])]
    run = Crafted(acts=acts)
    assert score("naswot", run) == pytest.approx(math.log(3 * 3 - 1 * 1))  # K = [[3, 1], [1, 3]]
    assert score("activation_distance", run) == pytest.approx(2 / 3)


def test_a_finished_probe_leaves_no_activation_alive(monkeypatch):
    import gc
    import weakref
    from discover.benchmarks import probe_hooks
    from discover.benchmarks.flexibert import model as flexibert
    recorded = []

    def recording(module, hidden):
        probe_hooks.record_activation(module, hidden)
        recorded.append(weakref.ref(hidden))

    monkeypatch.setattr(flexibert, "record_activation", recording)
    run = tiny_run()
    assert run.task["act_grads"][0].abs().sum() > 0
    del run
    gc.collect()
    assert recorded and all(ref() is None for ref in recorded)   # a leak per model restarts loky's workers


def test_a_proxy_does_not_depend_on_which_proxies_ran_before_it(tiny_lts):
    weight_readers = ["snip", "lpzero", "synaptic_diversity", "synflow", "logsynflow"]
    alone = probe_arch(tiny_lts, "config_0_j0", weight_readers, "as-trained", 0, ProbeSettings(2, 8))
    after_grasp = probe_arch(tiny_lts, "config_0_j0", ["grasp", *weight_readers], "as-trained", 0, ProbeSettings(2, 8))
    assert {n: after_grasp[n] for n in weight_readers} == {n: alone[n] for n in weight_readers}


def test_linear_outputs_are_recorded_only_for_the_proxies_that_read_them(tiny_lts):
    arch = tiny_lts.arch("config_0_j0")
    from discover.benchmarks.catalog import build_model
    run = ProbeSettings(2, 8).probe(build_model(tiny_lts, arch), tiny_lts.family, arch.config, 0, passes={"task"})
    assert "linear_outputs" not in run.task and "linear_output_grads" not in run.task
    with pytest.raises(ValueError, match="did not record the linear layers' outputs"):
        run.linear_outputs()
    alone = probe_arch(tiny_lts, "config_0_j0", ["lpzero_fisher"], "as-trained", 0, ProbeSettings(2, 8))
    beside = probe_arch(tiny_lts, "config_0_j0", ["snip", "lpzero_fisher"], "as-trained", 0, ProbeSettings(2, 8))
    assert alone["lpzero_fisher:error"] is None and alone["lpzero_fisher"] == beside["lpzero_fisher"]


def test_pass_seconds_exclude_the_passes_they_trigger(monkeypatch):
    from discover.probing import run as probe
    clock = iter(range(100))
    monkeypatch.setattr(probe.time, "perf_counter", lambda: float(next(clock)))
    run = tiny_run()
    # outer starts at 0, inner runs from 1 to 2, outer ends at 3: inner 1 s, outer 3 - 1 = 2 s of its own
    run.shared("outer", lambda r: r.shared("inner", lambda _: None))
    assert run.seconds == {"inner": 1.0, "outer": 2.0}


def test_hamming_adds_up_layers_like_one_concatenated_code():
    from discover.proxies.data.naswot import hamming
    generator = torch.Generator().manual_seed(1)
    acts = [torch.randn(4, 5, 7, generator=generator), torch.randn(4, 5, 3, generator=generator)]
    codes = torch.cat([(a > 0).reshape(4, -1).double() for a in acts], dim=1)
    direct = codes @ (1 - codes).T + (1 - codes) @ codes.T
    distance, length = hamming(Crafted(acts=acts, batch=4))
    assert length == 5 * 10 and torch.equal(distance, direct)


def test_nuclear_norm_matches_svd_also_for_low_rank():
    from discover.proxies.data.synaptic_diversity import nuclear_norm
    generator = torch.Generator().manual_seed(2)
    low_rank = torch.randn(60, 3, generator=generator) @ torch.randn(3, 20, generator=generator)
    for matrix in (low_rank, low_rank.T, torch.randn(30, 30, generator=generator)):
        exact = float(torch.linalg.matrix_norm(matrix.double(), "nuc"))
        assert nuclear_norm(matrix) == pytest.approx(exact, rel=1e-6)


def test_synflow_sums_absolute_contributions():
    run = Crafted()
    run.synflow = {"a": torch.tensor([[1.0, -2.0]]), "b": torch.tensor([-0.5])}
    assert score("synflow", run) == pytest.approx(3.5)


def test_a_new_proxy_version_recomputes_only_that_proxy(tiny_lts, monkeypatch):
    from dataclasses import replace
    from discover.proxies import probe_table as compute, registry
    data_proxy_table(tiny_lts, ["grad_norm", "snip"], batch=2, seq=8)
    monkeypatch.setitem(registry.PROXIES, "snip", replace(registry.PROXIES["snip"], version=7))
    probed = []
    real = compute.probe_arch
    monkeypatch.setattr(compute, "probe_arch", lambda *args: probed.append(args[2]) or real(*args))
    data_proxy_table(tiny_lts, ["grad_norm", "snip"], batch=2, seq=8)
    assert probed == [["snip"]] * len(tiny_lts)


def test_attention_confidences_by_hand():
    uniform = torch.full((1, 2, 3, 4), 0.25)
    one_hot = torch.zeros(1, 2, 3, 4)
    one_hot[..., 0] = 1.0
    assert score("attention_confidence", Crafted(probs=[uniform])) == pytest.approx(0.25)
    assert score("attention_confidence", Crafted(probs=[uniform, one_hot])) == pytest.approx(0.625)
    assert score("head_softmax_confidence", Crafted(probs=[uniform])) == pytest.approx(0.0, abs=1e-9)
    assert score("head_softmax_confidence", Crafted(probs=[one_hot, one_hot])) == pytest.approx(2.0)


def test_head_importance_and_fisher_by_hand():
    assert score("head_importance", Crafted(head_mask_grads=[torch.tensor([0.5, -0.25]),
                                                             torch.tensor([1.0])])) == pytest.approx(1.75)
    act = torch.ones(2, 3, 1)                   # batch 2, 3 tokens, 1 channel
    grad = torch.full((2, 3, 1), 0.5)
    # per example: (sum over tokens of a * g)^2 = 1.5^2; 0.5 * mean over the 2 examples
    assert score("fisher", Crafted(acts=[act], act_grads=[grad])) == pytest.approx(0.5 * 2.25)


def test_w_pca_counts_components():
    from discover.probing.signals import activation_spectrum, pca_components

    def components(act):
        return pca_components(activation_spectrum(act))
    rank_one = torch.arange(10.0).reshape(10, 1, 1) * torch.tensor([1.0, 2.0, 3.0])
    assert components(rank_one) == 1
    assert components(torch.randn(200, 1, 4, generator=torch.Generator().manual_seed(0))) == 4


def test_jacob_cov_prefers_uncorrelated_jacobians():
    class Jac:
        def __init__(self, j):
            self.jacobian = j
    orthogonal = score("jacob_cov", Jac(torch.eye(3, 6)))
    correlated = score("jacob_cov", Jac(torch.tensor([[1.0, 2, 3, 4], [1.1, 2, 3, 4], [1.0, 2.1, 3, 4]])))
    assert orthogonal > correlated


def test_gradient_proxies_match_a_direct_autograd():
    run = tiny_run()
    weights = [t.tensor for t in run.weights()]
    for m in run.attention_modules:
        m.zc_probe = {}
    loss = run._forward_with_loss()[1]
    for m in run.attention_modules:
        del m.zc_probe
    grads = torch.autograd.grad(loss, weights)
    assert score("grad_norm", run) == pytest.approx(float(sum(g.norm() for g in grads)), rel=1e-5)
    assert score("snip", run) == pytest.approx(float(sum((w.detach() * g).abs().sum() for w, g in zip(weights, grads))),
                                               rel=1e-5)


def test_grasp_is_the_hessian_gradient_product_a_fine_central_difference_finds():
    # float64, so that a step small enough for the quadratic regime still rises far above rounding
    run = ProbeRun(build_flexibert(TINY, "spec").double(), make_batch(30522, 3, 6, seed=0), FAMILIES["flexibert"])
    exact = score("grasp", run)
    weights = [t.tensor for t in run.weights()]
    g = [run.task["grads"][t.name] for t in run.weights()]
    step = 1e-5 * float(torch.sqrt(sum((w.detach() ** 2).sum() for w in weights)) /
                        torch.sqrt(sum((x ** 2).sum() for x in g)))

    def grads_at(shift):
        originals = [w.detach().clone() for w in weights]
        with torch.no_grad():
            for w, x in zip(weights, g):
                w.add_(x, alpha=shift)
        loss = run._forward_with_loss()[1]
        result = torch.autograd.grad(loss, weights, allow_unused=True)
        with torch.no_grad():
            for w, original in zip(weights, originals):
                w.copy_(original)
        return [r if r is not None else torch.zeros_like(w) for r, w in zip(result, weights)]
    hg = [(a - b) / (2 * step) for a, b in zip(grads_at(step), grads_at(-step))]
    central = -float(sum((w.detach() * h).sum() for w, h in zip(weights, hg)))
    assert exact != 0 and exact == pytest.approx(central, rel=1e-5)


# LPZero's GPT-2 definitions that read a language-model head or a learned position table, which FlexiBERT has not
NEEDS_GPT2 = {"lpzero_synflow", "lpzero_logsynflow", "lpzero_jacobian_cosine"}


@pytest.mark.parametrize("builder", ["as-trained", "spec", "legacy"])
def test_every_proxy_is_finite_on_a_real_model(builder):
    run = tiny_run(builder)
    for name, proxy in probe_proxies().items():
        if name in NEEDS_GPT2:
            with pytest.raises(ValueError, match="output head|position table"):
                proxy.function(run)
            continue
        value = proxy.function(run)
        assert math.isfinite(value), name


def test_every_proxy_is_finite_on_a_gpt2(tiny_lts):
    table = data_proxy_table(tiny_lts, list(probe_proxies()), batch=2, seq=8, use_cache=False)
    errors = table.filter(like=":error")
    assert errors.isna().all().all(), errors.dropna(axis=1, how="all").iloc[0].to_dict()
    assert np.isfinite(table[list(probe_proxies())].to_numpy(float)).all()


@pytest.fixture
def tiny_lts(tmp_path):
    return load_benchmark(f"lts-gpt2:{lts_folder(tmp_path / 'lts', [GPT2, {**GPT2, 'div_val': 1}, {**GPT2, 'n_layer': 1}])}")


def test_a_failing_proxy_records_nan_and_reason_and_the_rest_go_on(tiny_lts, monkeypatch):
    from discover.proxies import registry

    def broken(run):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setitem(registry.PROXIES, "broken", registry.Proxy("broken", "", "", ("probe",), broken, ("task",)))
    row = probe_arch(tiny_lts, "config_0_j0", ["broken", "grad_norm"], "as-trained", 0, ProbeSettings(2, 8))
    assert math.isnan(row["broken"]) and "out of memory" in row["broken:error"]
    assert math.isfinite(row["grad_norm"]) and row["grad_norm:error"] is None and row["grad_norm:seconds"] > 0


def test_failed_architectures_are_probed_again_on_request_and_cached(tiny_lts, monkeypatch):
    from discover.proxies import registry
    broken = {"config_1_j0"}

    def flaky(run):
        if run.arch_id in broken:
            raise RuntimeError("out of memory (simulated)")
        return float(run.batch.ids.shape[1])

    monkeypatch.setitem(registry.PROXIES, "flaky", registry.Proxy("flaky", "", "", ("probe",), flaky, ()))
    monkeypatch.setattr(ProbeRun, "arch_id", property(lambda run: run.model.zc_arch_id), raising=False)
    from discover.proxies import probe_table as compute
    real_build = compute.build_model

    def build_and_name(benchmark, arch, *args, **kwargs):
        model = real_build(benchmark, arch, *args, **kwargs)
        model.zc_arch_id = arch.id
        return model

    monkeypatch.setattr(compute, "build_model", build_and_name)
    first = data_proxy_table(tiny_lts, ["flaky"], batch=2, seq=8).set_index("arch_id")
    assert first["flaky:error"].notna().tolist() == [False, True, False]
    assert data_proxy_table(tiny_lts, ["flaky"], batch=2, seq=8)["flaky:error"].notna().sum() == 1   # cached
    broken.clear()
    retried = data_proxy_table(tiny_lts, ["flaky"], batch=2, seq=8, retry_failed=True).set_index("arch_id")
    assert retried["flaky:error"].isna().all() and (retried["flaky"] == 8).all()
    assert data_proxy_table(tiny_lts, ["flaky"], batch=2, seq=8)["flaky:error"].isna().all()   # and kept


def test_table_is_the_same_for_any_jobs_and_is_cached(tiny_lts):
    names = ["grad_norm", "naswot", "head_importance"]
    one = data_proxy_table(tiny_lts, names, batch=2, seq=8, n_jobs=1, use_cache=False)
    two = data_proxy_table(tiny_lts, names, batch=2, seq=8, n_jobs=2, use_cache=False)
    pd.testing.assert_frame_equal(one[["arch_id", *names]], two[["arch_id", *names]])
    cached = data_proxy_table(tiny_lts, names, batch=2, seq=8)
    again = data_proxy_table(tiny_lts, names, batch=2, seq=8)
    np.testing.assert_allclose(again[names].to_numpy(float), cached[names].to_numpy(float))


def test_data_proxies_are_scored_and_compared_by_name(tiny_lts):
    from discover.comparison import compare
    report = compare(tiny_lts, ["params", "grad_norm"], options={"batch": 2, "seq": 8})
    row = report.set_index("proxy").loc["grad_norm"]
    assert bool(row.needs_data) and row.needs == "probe+gradients" and row.failed == 0 and row.seconds_per_arch > 0


def test_activation_features_extend_the_table(tiny_lts):
    from discover import featurize
    from discover.probing.activations import activation_feature_names
    table = featurize(tiny_lts, with_activations=True, use_cache=False)
    names = activation_feature_names()
    assert set(names) <= set(table.columns) and "sum_ffn_logdet" in table.columns
    assert table[names].notna().all().all()
    assert (table["count_attention"] > 0).all() and (table["mean_attention_attn_entropy"] > 0).all()
    # one-layer architecture: its sum over layers equals its mean
    one_layer = table[table.arch_id == "config_2_j0"].iloc[0]
    assert one_layer["sum_ffn_act_norm"] == pytest.approx(one_layer["mean_ffn_act_norm"])


def test_one_proxy_reuses_what_a_many_proxy_call_computed(tiny_lts, monkeypatch):
    from discover.proxies import probe_table as compute
    calls = {"n": 0}
    real = compute.probe_arch

    def counting(*args):
        calls["n"] += 1
        return real(*args)

    monkeypatch.setattr(compute, "probe_arch", counting)
    data_proxy_table(tiny_lts, ["grad_norm", "snip"], batch=2, seq=8)
    probed = calls["n"]
    assert probed == len(tiny_lts)
    single = data_proxy_table(tiny_lts, ["snip"], batch=2, seq=8)
    assert calls["n"] == probed and list(single.columns) == ["arch_id", "snip", "snip:error", "snip:seconds"]


def test_lpzero_and_eznas_by_hand():
    from primitives.decompose import TaggedTensor

    class Run:
        def __init__(self, weight, grad):
            self.tensor = TaggedTensor("w", 0, "ffn", "linear", weight)
            self.task = {"grads": {"w": grad}}

        def weights(self):
            return [self.tensor]

    weight = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    equal = torch.zeros(2, 2)   # softmax over dim 0 of a constant column: 1/2 each
    assert score("lpzero", Run(weight, equal)) == pytest.approx(30 / 4 + 0.25)
    # sign matrix [[1, 1], [-1, 1]] has determinant 2: sigmoid(log 2) = 2/3
    assert score("eznas", Run(weight, torch.tensor([[0.3, 0.1], [-0.2, 0.5]]))) == pytest.approx(2 / 3)
    # determinant -2 (undefined log) and a non-square matrix both count sigmoid(0) = 1/2
    assert score("eznas", Run(weight, torch.tensor([[0.3, 0.1], [0.2, -0.5]]))) == pytest.approx(0.5)
    assert score("eznas", Run(torch.ones(2, 3), torch.ones(2, 3))) == pytest.approx(0.5)
    # a singular sign matrix: log-determinant -inf, sigmoid 0 (and no overflow on the way)
    assert score("eznas", Run(weight, torch.ones(2, 2))) == 0.0
    singular = torch.sign(torch.randn(64, 1, generator=torch.Generator().manual_seed(0))).repeat(1, 64)
    singular[:, 0] += 1e-3   # floating point then reports a tiny nonzero determinant
    assert score("eznas", Run(torch.ones(64, 64), singular)) == 0.0


def test_compare_probes_each_architecture_once_for_all_its_data_proxies(tiny_lts, monkeypatch):
    from discover.comparison import compare
    from discover.proxies import probe_table
    probed = []
    real = probe_table.probe_arch
    monkeypatch.setattr(probe_table, "probe_arch", lambda *args: probed.append(args[2]) or real(*args))
    compare(tiny_lts, ["grad_norm", "snip", "naswot"], options={"batch": 2, "seq": 8})
    assert probed == [["grad_norm", "snip", "naswot"]] * len(tiny_lts)
