"""W-PCA: choice - for each FFN, the number of principal components of its hidden activations (all tokens of the
batch as samples) that hold 99% of the variance, summed over layers, times the non-embedding parameter count."""
import torch

from ..registry import data_proxy

VARIANCE = 0.99


def components(act: torch.Tensor) -> int:
    samples = act.reshape(-1, act.shape[-1]).float()
    samples = samples - samples.mean(dim=0)
    # The spectrum of the smaller Gram matrix: the same variances as an SVD of the samples, several times cheaper.
    # Single precision (1.6-2x faster than double) moves an eigenvalue by ~1e-4 of the largest, which can change the
    # count only where the 99% line falls within that of a component boundary.
    gram = samples.T @ samples if samples.shape[0] >= samples.shape[1] else samples @ samples.T
    energy = torch.linalg.eigvalsh(gram).double().flip(0).clamp_min(0)
    if energy.sum() <= 0:
        return 0
    return int(torch.searchsorted(torch.cumsum(energy, 0) / energy.sum(), VARIANCE - 1e-12)) + 1


@data_proxy("w-pca", "Zhang et al., W-PCA Based Gradient-Free Proxy for Efficient Search of Lightweight LMs, 2025",
            "#params (non-embedding) x sum over FFNs of the principal components holding 99% of activation variance",
            ("task",), needs_gradients=False)
def w_pca(run) -> float:
    params = sum(t.numel for t in run.tensors if t.role not in ("embedding", "head"))
    return float(params * sum(components(a) for a in run.task["acts"]))
