"""Stage 2: questions asked of a corpus's vectors: expressions, word arithmetic, concept axes."""
