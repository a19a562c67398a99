"""Files on disk: run-directory paths, atomic writes, the trainer's lock, signals, the checkpoint
format and the training checkpoints, the metrics log. Imports no math."""
