"""Stage 1: corpus → vectors → kNN graph → layout → clusters, with the caches behind them.

Imports only lib.errors and itself; every layer above (query, figures, share, teach, batch)
builds on it.
"""
