"""Learning-rate schedules, one module each, registered in rnnlm/registry.py (base.py: the shape)."""
