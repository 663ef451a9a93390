"""EZNAS: the program EZNAS's evolutionary search reports, as LPZero's code re-implements it for Transformers.

Per weight matrix: sign of the gradient -> log-determinant -> sigmoid -> Frobenius norm, summed over matrices.
Choices: a log-determinant that is undefined counts 0, as in that re-implementation (NaN -> 0) - this covers the
negative determinants of most sign matrices and, here, every non-square matrix (where ``torch.logdet`` would raise);
a singular sign matrix has log-determinant -inf there, so it adds sigmoid(-inf) = 0. A sign matrix's determinant is an
integer, so any |det| < 1/2 that floating point reports is that zero (with either sign). The matrices are the
attention, mixing and FFN weights; gradients come from the probe task loss.
"""
import math

from scipy.special import expit

import torch

from ..registry import probe_proxy


@probe_proxy("eznas", "Akhauri et al., EZNAS: Evolving Zero-Cost Proxies For Neural Architecture Scoring, NeurIPS 2022",
            "sum over weight matrices of sigmoid(logdet(sign(dL/dW))), undefined logdets counting 0", ("task",))
def eznas(run) -> float:
    total = 0.0
    for t in run.weights():
        grad = run.task["grads"][t.name]
        grad = grad.reshape(grad.shape[0], -1).double()
        logdet = 0.0
        if grad.shape[0] == grad.shape[1]:
            sign, value = (float(v) for v in torch.linalg.slogdet(torch.sign(grad)))
            if sign == 0 or value < math.log(0.5):
                logdet = -math.inf
            elif sign > 0:
                logdet = value
        total += float(expit(logdet))   # the Frobenius norm of a scalar is its absolute value
    return total
