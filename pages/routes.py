"""The app's page list: app.py shows it, and a page run outside the app's frame reruns through it
(`state.require_app_frame`). Imports nothing of ours, so every page module may import it."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGE_DIR = Path(__file__).resolve().parent


def _page(file: str, title: str, icon: str, **options) -> st.Page:
    """One entry of the navigation; the URL path is the file name."""
    return st.Page(PAGE_DIR / file, title=title, icon=f":material/{icon}:",
                   url_path=file.removesuffix(".py"), **options)  # fmt: skip


def app_pages() -> dict[str, list[st.Page]]:
    """The app's navigation, by section (app.py shows it; share links and routing use it)."""
    return {
        "Explore": [
            _page("map.py", "Map", "scatter_plot", default=True),
            _page("corpus.py", "Corpus", "upload_file"),
            _page("compare.py", "Compare", "compare"),
        ],
        "Query": [
            _page("arithmetic.py", "Arithmetic", "calculate"),
            _page("words.py", "Words", "abc"),
            _page("axes.py", "Concept axes", "open_with"),
        ],
        "Learn": [
            _page("tour.py", "What are embeddings?", "explore"),
            _page("lessons.py", "Lessons", "school"),
        ],
    }
