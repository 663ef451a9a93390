"""NASWOT: choice - each example's binary code is the sign pattern of every FFN hidden activation (all tokens, all
layers; GELU > 0), and the kernel K_ij = D - Hamming(c_i, c_j)."""
import torch

from ..registry import data_proxy


def codes(run) -> torch.Tensor:
    batch = run.batch.ids.shape[0]
    return torch.cat([(a > 0).reshape(batch, -1).double() for a in run.task["acts"]], dim=1)


@data_proxy("naswot", "Mellor et al., Neural Architecture Search without Training, ICML 2021",
            "log-determinant of the examples' activation Hamming kernel", ("task",), needs_gradients=False)
def naswot(run) -> float:
    c = codes(run)
    kernel = c @ c.T + (1 - c) @ (1 - c).T
    return float(torch.linalg.slogdet(kernel).logabsdet)
