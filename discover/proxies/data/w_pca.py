"""W-PCA: choice - for each FFN, the number of principal components of its hidden activations (all tokens of the
batch as samples) that hold 99% of the variance, summed over layers, times the non-embedding parameter count."""
import torch

from primitives.statistics import components_holding, gram_eigenvalues
from ..registry import probe_proxy

VARIANCE = 0.99


def components(act: torch.Tensor) -> int:
    """Principal components of (tokens x hidden) activations holding 99% of their variance."""
    samples = act.reshape(-1, act.shape[-1]).float()
    # Single precision (1.6-2x faster than double) moves an eigenvalue by ~1e-4 of the largest, which can change the
    # count only where the 99% line falls within that of a component boundary.
    variances = gram_eigenvalues(samples - samples.mean(dim=0)).double().flip(0)
    return components_holding(variances.cpu().numpy(), VARIANCE)


@probe_proxy("w-pca", "Zhang et al., W-PCA Based Gradient-Free Proxy for Efficient Search of Lightweight LMs, 2025",
            "#params (non-embedding) x sum over FFNs of the principal components holding 99% of activation variance",
            ("task",), gradients=False)
def w_pca(run) -> float:
    params = sum(t.numel for t in run.tensors if t.role not in ("embedding", "head"))
    return float(params * sum(components(a) for a in run.task["acts"]))
