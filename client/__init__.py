"""regctl: push, pull, show and verify artifacts of the Reproducibility Registry."""
