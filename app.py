"""embedscope entry point: page routing and the shared sidebar."""

from pathlib import Path

import streamlit as st

from pages._common import follow_share_link, init_session, sidebar

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="embedscope", page_icon=":material/scatter_plot:", layout="wide")
init_session()
follow_share_link()

navigation = st.navigation(
    [
        st.Page(PAGES / "map.py", title="Map", icon=":material/scatter_plot:", url_path="map",
                default=True),
        st.Page(PAGES / "corpus.py", title="Corpus", icon=":material/upload_file:",
                url_path="corpus"),
        st.Page(PAGES / "arithmetic.py", title="Arithmetic", icon=":material/calculate:",
                url_path="arithmetic"),
        st.Page(PAGES / "words.py", title="Words", icon=":material/abc:", url_path="words"),
        st.Page(PAGES / "axes.py", title="Concept axes", icon=":material/open_with:",
                url_path="axes"),
        st.Page(PAGES / "lessons.py", title="Lessons", icon=":material/school:", url_path="lessons"),
        st.Page(PAGES / "tour.py", title="What are embeddings?", icon=":material/explore:",
                url_path="tour"),
    ]
)  # fmt: skip

with st.sidebar:
    sidebar(navigation.url_path)

navigation.run()
