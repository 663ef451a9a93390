"""Closed-form expected spectral capacity of a random matrix (Marchenko-Pastur), from its shape alone."""
from __future__ import annotations

import math


def expected_logdet(m: int, n: int, variance: float | None = None) -> float:
    """E[sum_i log(1 + s_i^2)] for an m x n matrix of i.i.d. entries of ``variance`` (default Xavier 2 / (m + n)).

    With H = W / sqrt(variance * m) (entries of variance 1/m) this is m times the Shannon transform of the
    Marchenko-Pastur law at SNR = variance * m and ratio beta = n / m (Verdu & Shamai 1999):
    beta log(1 + SNR - F/4) + log(1 + SNR beta - F/4) - F / (4 SNR),
    F = (sqrt(SNR (1 + sqrt(beta))^2 + 1) - sqrt(SNR (1 - sqrt(beta))^2 + 1))^2.
    """
    variance = 2.0 / (m + n) if variance is None else variance
    if variance <= 0:
        return 0.0
    snr, beta = variance * m, n / m
    f = (math.sqrt(snr * (1 + math.sqrt(beta)) ** 2 + 1) - math.sqrt(snr * (1 - math.sqrt(beta)) ** 2 + 1)) ** 2
    return m * (beta * math.log(1 + snr - f / 4) + math.log(1 + snr * beta - f / 4) - f / (4 * snr))
