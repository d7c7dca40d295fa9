"""The Reproducibility Registry server."""
