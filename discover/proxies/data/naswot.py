"""NASWOT: choice - each example's binary code is the sign pattern of every FFN hidden activation (all tokens, all
layers; GELU > 0), and the kernel K_ij = D - Hamming(c_i, c_j)."""
import torch

from ..registry import probe_proxy


def _hamming(run) -> tuple[torch.Tensor, int]:
    """(batch x batch Hamming distances between the examples' codes, code length D).

    Layer by layer, from one Gram matrix: H_ij = |c_i| + |c_j| - 2 c_i.c_j. Each layer's Gram is exact in float32 (its
    integer sums stay below 2^24) and is added up in float64, so GPT-2's codes of ~10^7 bits never materialise in
    float64."""
    batch, acts = run.batch.ids.shape[0], run.task["acts"]
    distance, length = torch.zeros(batch, batch, dtype=torch.float64, device=acts[0].device if acts else None), 0
    for act in acts:
        code = (act > 0).reshape(batch, -1).float()
        ones = code.sum(dim=1, dtype=torch.float64)
        distance += ones[:, None] + ones[None, :] - 2 * (code @ code.T).double()
        length += code.shape[1]
    return distance, length


def hamming(run) -> tuple[torch.Tensor, int]:
    """The Hamming distances, computed once per probe run for ``naswot`` and ``activation_distance``."""
    return run.shared("codes", _hamming)


@probe_proxy("naswot", "Mellor et al., Neural Architecture Search without Training, ICML 2021",
            "log-determinant of the examples' activation Hamming kernel", ("task", "codes"), gradients=False)
def naswot(run) -> float:
    distance, length = hamming(run)
    return float(torch.linalg.slogdet(length - distance).logabsdet)
