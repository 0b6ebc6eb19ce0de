"""Stage 3: Plotly figures from arrays and labels (no models, no Streamlit)."""
