"""Robustness of sub-networks under adversarial text (issue #29): LoNAS-style elastic sub-networks of the project's
pretrained encoder (``elastic``) and their super-adapter trained per sentence task (``superadapter``)."""
