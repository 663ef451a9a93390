"""Data-dependent zero-cost proxies: probe a model with a seeded batch, measure gradients and activations."""
