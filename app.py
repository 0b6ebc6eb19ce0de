"""embedscope entry point: page routing and the shared sidebar."""

from pathlib import Path

import streamlit as st

from pages._common import follow_share_link, init_session, sidebar

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="embedscope", page_icon=":material/scatter_plot:", layout="wide")
# config.toml hides Streamlit's own list of pages/ (it flashed on a fresh server's first paint);
# the navigation below is the app's, and shows.
st.set_option("client.showSidebarNavigation", True)
init_session()
follow_share_link()


def page(file: str, title: str, icon: str, **options) -> st.Page:
    """One entry of the navigation; the URL path is the file name."""
    return st.Page(PAGES / file, title=title, icon=f":material/{icon}:",
                   url_path=file.removesuffix(".py"), **options)  # fmt: skip


navigation = st.navigation(
    {
        "Explore": [
            page("map.py", "Map", "scatter_plot", default=True),
            page("corpus.py", "Corpus", "upload_file"),
            page("compare.py", "Compare", "compare"),
        ],
        "Query": [
            page("arithmetic.py", "Arithmetic", "calculate"),
            page("words.py", "Words", "abc"),
            page("axes.py", "Concept axes", "open_with"),
        ],
        "Learn": [
            page("tour.py", "What are embeddings?", "explore"),
            page("lessons.py", "Lessons", "school"),
        ],
    }
)

with st.sidebar:
    sidebar(navigation.url_path)

navigation.run()
