"""Stage 5: lessons and the tour, built from measurements of the engine."""
