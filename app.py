"""embedscope entry point: page routing and the shared sidebar; the server's start hook."""

import streamlit as st

if __name__ == "__main__":  # a page run (every script run of every session)
    from pages._common import init_session
    from pages.frame import follow_share_link, run_page, sidebar
    from pages.routes import app_pages

    st.set_page_config(page_title="embedscope", page_icon=":material/scatter_plot:", layout="wide")
    # config.toml hides Streamlit's own list of pages/ (it flashed on a fresh server's first
    # paint); the navigation below is the app's, and shows.
    st.set_option("client.showSidebarNavigation", True)
    init_session()
    follow_share_link()

    navigation = st.navigation(app_pages())

    with st.sidebar:
        sidebar(navigation.url_path)

    run_page(navigation)
else:  # `streamlit run app.py` imports this file once to serve it: the server starts here
    from pages.frame import server_lifespan

    app = st.App("app.py", lifespan=server_lifespan)
