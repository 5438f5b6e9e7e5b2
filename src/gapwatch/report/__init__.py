"""Outputs: the rich terminal verdict and the self-contained HTML report."""
