"""W-PCA: choice - for each FFN, the number of principal components of its hidden activations (all tokens of the
batch as samples) that hold 99% of the variance, summed over layers, times the non-embedding parameter count."""
from ...probing.signals import ffn_spectra, pca_components
from ..registry import probe_proxy

VARIANCE = 0.99


@probe_proxy("w-pca", "Zhang et al., W-PCA Based Gradient-Free Proxy for Efficient Search of Lightweight LMs, 2025",
            "#params (non-embedding) x sum over FFNs of the principal components holding 99% of activation variance",
            ("task", "ffn_spectra"), gradients=False)
def w_pca(run) -> float:
    params = sum(t.numel for t in run.tensors if t.role not in ("embedding", "head"))
    return float(params * sum(pca_components(spectrum, VARIANCE) for spectrum in ffn_spectra(run)))
