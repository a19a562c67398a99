"""Using a trained model: load it back from a run directory, score text, generate text."""
