"""Arithmetic that training-free-nas's and LPZero's released code apply to whatever tensors they hook, shared by the
proxies that reproduce their columns (``tfnas_*`` on FlexiBERT's mixers and GELUs, ``lpzero_*`` on every linear
layer)."""
import torch


def code_agreements(output: torch.Tensor) -> float:
    """Over the first example of a (batch, tokens, ...) output, the binary codes (> 0) of its tokens and the sum over
    all token pairs of the positions where two codes agree: K + K2 = x x^T + (1 - x)(1 - x)^T, summed."""
    codes = (output[0].reshape(output.shape[1], -1) > 0).double()          # (tokens, features) of example 0
    return float((codes @ codes.T + (1 - codes) @ (1 - codes).T).sum())


def max_over_dim1(output: torch.Tensor) -> float:
    """``torch.mean(torch.max(output, 1)[0])``: the largest value over dimension 1 (the tokens of (batch, tokens,
    features); the heads of (batch, heads, queries, keys)), averaged over the rest."""
    return float(output.max(dim=1).values.double().mean())
