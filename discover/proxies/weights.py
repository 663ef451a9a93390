"""Hand-designed proxies computed from weights or shapes: #params, FLOPs, ZeroLM, NSC and its closed form."""
from __future__ import annotations

import logging

import numpy as np

from primitives.decompose import decompose
from ..benchmarks import build_model
from ..metrics import rank_quality
from .marchenko_pastur import expected_logdet
from .registry import ProxyContext, ProxyResult, register_proxy

log = logging.getLogger(__name__)
ZEROLM_SAMPLE = 50
ZEROLM_GRID = (0.0, 3.0, 0.05)
NSC_ROLES = ("attention", "mixing", "ffn")
# the size counts every discovered proxy is judged against (the best of them on a space is "the best count")
COUNT_PROXIES = ("params", "params_attention", "params_ffn", "params_total", "flops")


@register_proxy("params", "the classic size baseline", "parameters outside the embedding and the output head "
                "(LTS's 'nonembedding'; on FlexiBERT, which has no head, the total minus the embedding)",
                needs=("counts",))
def params(ctx: ProxyContext) -> ProxyResult:
    return ProxyResult(ctx.table["params_nonembedding"].to_numpy(float))


@register_proxy("params_attention", "a size baseline", "parameters of the attention sub-modules (their weight "
                "matrices and biases; LTS's 'Attn' up to the LayerNorms)", needs=("counts",))
def params_attention(ctx: ProxyContext) -> ProxyResult:
    return ProxyResult(ctx.table["params_attention"].to_numpy(float))


@register_proxy("params_ffn", "a size baseline", "parameters of the FFN sub-modules (their weight matrices and "
                "biases; LTS's 'FFN' up to the LayerNorms)", needs=("counts",))
def params_ffn(ctx: ProxyContext) -> ProxyResult:
    return ProxyResult(ctx.table["params_ffn"].to_numpy(float))


@register_proxy("params_total", "the classic size baseline", "all parameters, embeddings included",
                needs=("counts",))
def params_total(ctx: ProxyContext) -> ProxyResult:
    return ProxyResult(ctx.table["n_params"].to_numpy(float))


@register_proxy("flops", "the classic compute baseline", "analytic FLOPs of one forward pass at sequence length 128",
                needs=("counts",))
def flops(ctx: ProxyContext) -> ProxyResult:
    return ProxyResult(ctx.table["flops"].to_numpy(float))


def zerolm_alpha(s_ffn: np.ndarray, s_attn: np.ndarray, target: np.ndarray, sample: np.ndarray,
                 grid: tuple[float, float, float] = ZEROLM_GRID) -> tuple[float, float]:
    """The alpha of the grid whose S_ffn + alpha S_attn has the best Spearman on ``sample`` (ties: smallest)."""
    start, stop, step = grid
    alphas = np.round(np.arange(start, stop + step / 2, step), 10)
    best_alpha, best_rho = float(alphas[0]), -np.inf
    for alpha in alphas:
        rho = rank_quality(s_ffn[sample] + alpha * s_attn[sample], target[sample]).spearman
        if np.isfinite(rho) and rho > best_rho + 1e-12:
            best_alpha, best_rho = float(alpha), rho
    return best_alpha, float(best_rho)


@register_proxy("zerolm", "ZeroLM (2025): sub-module capacity balanced by a weight alpha",
                "S_ffn + alpha S_attn, S_role = sum over the role's matrices of ||W||_F^2 / min(m, n); alpha given "
                "(option alpha) or chosen on a seeded random sample of 50 labelled architectures (options "
                "sample_size, alpha_grid=(start, stop, step), default 0..3 by 0.05)", needs=("weights", "labels"))
def zerolm(ctx: ProxyContext) -> ProxyResult:
    s_ffn = ctx.table["sum_ffn_capacity"].to_numpy(float)
    s_attn = ctx.table["sum_attention_capacity"].to_numpy(float)
    info: dict = {}
    alpha = ctx.options.get("alpha")
    if alpha is None:
        size = min(int(ctx.options.get("sample_size", ZEROLM_SAMPLE)), len(s_ffn))
        sample = np.sort(np.random.default_rng(ctx.seed).choice(len(s_ffn), size=size, replace=False))
        grid = tuple(ctx.options.get("alpha_grid", ZEROLM_GRID))
        alpha, rho = zerolm_alpha(s_ffn, s_attn, ctx.table["target"].to_numpy(float), sample, grid)
        info = {"alpha": alpha, "sample_spearman": rho, "sample_ids": ctx.table["arch_id"].iloc[sample].tolist(),
                "alpha_grid": list(grid), "alpha_on_grid_edge": alpha in (grid[0], grid[1]),
                "alpha_fitted_on_compared": f"{size} of the {len(s_ffn)} compared architectures"}
        if size * 2 > len(s_ffn):   # the fit has seen most of what it is judged on: say so
            log.warning("zerolm's alpha was fitted on %d of the %d architectures it is scored on, so its figures "
                        "are not held out; score it on more architectures (fewer --ids) or fix --alpha", size,
                        len(s_ffn))
            info["note"] = f"alpha fitted on {size} of the {len(s_ffn)} scored architectures (not held out)"
    else:
        info = {"alpha": float(alpha)}
    return ProxyResult(s_ffn + float(alpha) * s_attn, info)


@register_proxy("nsc", "NSC (2026): spectral capacity",
                "sum over attention, mixing and FFN matrices of sum_i log(1 + s_i^2), singular values of each "
                "matrix rescaled to Xavier variance 2 / (m + n)")
def nsc(ctx: ProxyContext) -> ProxyResult:
    return ProxyResult(sum(ctx.table[f"sum_{role}_logdet_xavier"].to_numpy(float) for role in NSC_ROLES))


@register_proxy("nsc_mp", "NSC (2026), closed form",
                "the Marchenko-Pastur expectation of nsc from the matrix shapes alone (models built on the meta "
                "device: no weights are drawn)", needs=("shapes",))
def nsc_mp(ctx: ProxyContext) -> ProxyResult:
    scores = []
    for arch_id in ctx.table["arch_id"].astype(str):
        model = build_model(ctx.benchmark, arch_id, ctx.builder, ctx.seed, device="meta")
        total = 0.0
        for t in decompose(model):
            if t.role in NSC_ROLES and t.kind != "bias" and t.tensor.dim() >= 2:
                m, n = t.tensor.shape[0], t.tensor[0].numel()
                total += expected_logdet(m, n)
        scores.append(total)
    return ProxyResult(np.array(scores))
