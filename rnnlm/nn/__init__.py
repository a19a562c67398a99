"""Pure math: each piece a forward returning (out, cache) and, right below it, its backward.

Imports only rnnlm.backend. Gradients accumulate: every backward adds its parameter gradients
into the grads dict it is given (``add_grad``), so a parameter used twice (a tied embedding and
output layer, say) simply receives both contributions.
"""
