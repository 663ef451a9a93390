"""One module per published data-dependent proxy; importing this package registers them all."""
from . import (activation_distance, attention_confidence, fisher, grad_norm, grasp, head_importance,  # noqa: F401
               head_softmax_confidence, jacob_cov, naswot, snip, synaptic_diversity, synflow, w_pca)
