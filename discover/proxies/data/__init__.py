"""One module per published data-dependent proxy; importing this package registers them all."""
from . import (activation_distance, attention_confidence, eznas, fisher, grad_norm, grasp,  # noqa: F401
               head_importance, head_softmax_confidence, jacob_cov, lpzero, lpzero_activation_distance,
               lpzero_attention_confidence, lpzero_bert, lpzero_fisher, lpzero_head_importance,
               lpzero_jacobian_cosine, lpzero_synflow, naswot, snip, synaptic_diversity, synflow,
               tfnas_activation_distance, tfnas_head_confidence, tfnas_head_softmax_confidence, w_pca)
