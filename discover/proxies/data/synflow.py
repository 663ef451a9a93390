"""SynFlow and LogSynFlow.

Choice: the input is one sequence of token id 0 (LayerNorm makes an all-ones input degenerate), the model runs in
float64 with every parameter replaced by its absolute value, and R is a fixed positive random read-out of its final
hidden states (their plain sum is identically zero behind a final LayerNorm, so it has no gradient). Each weight's
contribution is |theta * dR/dtheta|, as the reference implementations (zero-cost-nas, and LTS for GPT-2) take it:
behind LayerNorm the |weights| network is no longer monotone, so the signed products cancel (version 1 summed them
signed and scored Spearman -0.002 on lts-gpt2-wt103, where LTS published 0.732).
"""
import torch

from ..registry import probe_proxy


@probe_proxy("synflow", "Tanaka et al., SynFlow, NeurIPS 2020 (as a proxy: Abdelfattah et al. 2021)",
            "sum of |theta * dR/dtheta| over attention, mixing and FFN matrices of the |weights| model",
            ("synflow",), version=2)
def synflow(run) -> float:
    return float(sum(s.abs().sum() for s in run.synflow.values()))


@probe_proxy("logsynflow", "Cavagnero et al., LogSynFlow (2022)",
            "sum of |theta| * log(1 + |dR/dtheta|): synflow with log-compressed gradients", ("synflow",))
def logsynflow(run) -> float:
    weights = {t.name: t.tensor for t in run.weights()}
    total = 0.0
    for name, product in run.synflow.items():
        weight = weights[name].detach().abs().double()
        gradient = torch.where(weight > 0, product / weight.clamp_min(1e-300), torch.zeros_like(product))
        total += float((weight * torch.log1p(gradient.abs())).sum())
    return total
