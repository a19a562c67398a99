"""Training: setup, one step, the non-finite guard, evaluate-and-checkpoint, the loop."""

from .loop import train

__all__ = ["train"]
