"""Data validation with great-expectations (the only package that imports it)."""
