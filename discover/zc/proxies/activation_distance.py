"""Activation distance: choice - the mean pairwise Hamming distance between the examples' FFN activation codes (the
codes of ``naswot``), divided by the code length; Serianni & Kalita (2023) adapted NASWOT's distance to BERT."""

from ..registry import data_proxy
from .naswot import codes


@data_proxy("activation_distance", "Serianni & Kalita, ACL 2023 (after Mellor et al. 2021)",
            "mean normalised Hamming distance between examples' FFN activation patterns", ("task",),
            needs_gradients=False)
def activation_distance(run) -> float:
    c = codes(run)
    hamming = c @ (1 - c).T + (1 - c) @ c.T
    n = c.shape[0]
    return float(hamming.sum() / (n * (n - 1)) / c.shape[1])
