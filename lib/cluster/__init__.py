"""Stage: clusters and their names."""
