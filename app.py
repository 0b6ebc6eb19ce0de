"""embedscope entry point: page routing and the shared sidebar."""

import streamlit as st

from pages._common import init_session
from pages.frame import app_pages, follow_share_link, run_page, sidebar

st.set_page_config(page_title="embedscope", page_icon=":material/scatter_plot:", layout="wide")
# config.toml hides Streamlit's own list of pages/ (it flashed on a fresh server's first paint);
# the navigation below is the app's, and shows.
st.set_option("client.showSidebarNavigation", True)
init_session()
follow_share_link()


navigation = st.navigation(app_pages())

with st.sidebar:
    sidebar(navigation.url_path)

run_page(navigation)
