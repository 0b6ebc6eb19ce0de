"""Stage 6: command-line precompute of big corpora (locally or on Ray)."""
