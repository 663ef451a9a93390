"""Pruning spaces: sub-networks of trained reference language models, ranked by their exact held-out loss."""
