"""embedscope engine: corpus → embeddings → maps, clusters and queries; no Streamlit here."""
