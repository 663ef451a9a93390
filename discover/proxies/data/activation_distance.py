"""Activation distance: choice - the mean pairwise Hamming distance between the examples' FFN activation codes (the
codes of ``naswot``), divided by the code length; Serianni & Kalita (2023) adapted NASWOT's distance to BERT."""

from ..registry import probe_proxy
from .naswot import hamming


@probe_proxy("activation_distance", "Serianni & Kalita, ACL 2023 (after Mellor et al. 2021)",
            "mean normalised Hamming distance between examples' FFN activation patterns", ("task", "codes"),
            gradients=False)
def activation_distance(run) -> float:
    distance, length = hamming(run)
    n = distance.shape[0]
    return float(distance.sum() / (n * (n - 1)) / length)
