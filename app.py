"""embedscope entry point: page routing and the shared sidebar."""

from pathlib import Path

import streamlit as st

from pages._common import active_corpus, init_session, md

HERE = Path(__file__).parent
PAGES = HERE / "pages"

st.set_page_config(page_title="embedscope", page_icon=":material/scatter_plot:", layout="wide")
init_session()

navigation = st.navigation(
    [
        st.Page(
            PAGES / "map.py",
            title="Map",
            icon=":material/scatter_plot:",
            url_path="map",
            default=True,
        ),
        st.Page(
            PAGES / "corpus.py", title="Corpus", icon=":material/upload_file:", url_path="corpus"
        ),
        st.Page(
            PAGES / "arithmetic.py",
            title="Arithmetic",
            icon=":material/calculate:",
            url_path="arithmetic",
        ),
        st.Page(PAGES / "words.py", title="Words", icon=":material/abc:", url_path="words"),
        st.Page(
            PAGES / "axes.py", title="Concept axes", icon=":material/explore:", url_path="axes"
        ),
    ]
)

with st.sidebar:
    corpus = active_corpus()
    st.markdown(f"**Corpus:** {md(corpus.source)}")
    st.caption(f"{len(corpus):,} documents · model {md(st.session_state['model_name'])}")
    st.page_link(PAGES / "corpus.py", label="Load another corpus", icon=":material/upload_file:")

navigation.run()
