"""Benchmarks that print ratios measured in one run (never absolute targets checked by unit tests)."""
