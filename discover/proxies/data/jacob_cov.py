"""Jacobian covariance: choice - the Jacobian is of a fixed random read-out of the final hidden states (a sum would have
no gradient behind a final LayerNorm) with respect to each example's input embeddings (the output of the embedding
module), flattened over tokens and width."""
import torch

from ..registry import probe_proxy

EPS = 1e-5


@probe_proxy("jacob_cov", "Mellor et al., Neural Architecture Search without Training (v1), 2020",
            "-sum over eigenvalues of the Jacobians' correlation matrix of log(l + e) + 1 / (l + e)", ("task",))
def jacob_cov(run) -> float:
    jacobian = run.jacobian.double()
    correlation = torch.corrcoef(jacobian)
    eigenvalues = torch.linalg.eigvalsh(correlation)
    return float(-(torch.log(eigenvalues + EPS) + 1.0 / (eigenvalues + EPS)).sum())
