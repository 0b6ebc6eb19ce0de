"""Corpus page: open a saved project, pick a sample, upload a file or paste text; choose the
text column and model. On a hosted server only saved projects and samples are offered."""

import pandas as pd
import streamlit as st

from lib.embed.models import (
    CHARS_PER_TOKEN,
    DEFAULT_MODEL,
    available_models,
    estimate_embedding,
    estimate_truncated,
    model_max_tokens,
)
from lib.errors import EmbedscopeError
from lib.ingest.corpus import (
    MAX_DOCUMENTS,
    SUPPORTED_FORMATS,
    Corpus,
    corpus_from_frame,
    corpus_from_pasted,
    guess_text_column,
    list_samples,
    read_table,
)
from lib.ingest.vectors import UploadedVectors, load_vectors
from lib.service.samples import shipped_vectors
from lib.share.projects import ProjectSummary
from pages import state
from pages._common import (
    DEFAULT_SAMPLE,
    active_corpus,
    active_embedding,
    corpus_embedding,
    hosted,
    is_bundled_sample,
    md,
    open_project,
    sample_corpus,
    saved_projects,
    set_corpus,
    show_error,
    show_vectors,
)
from pages.map_parts.duplicates import duplicates_section

state.require_app_frame()  # a direct link on a fresh server: rerun inside app.py's frame

OTHER_MODEL = "Another sentence-transformers model…"
PROJECTS = "Saved projects"
UPLOADS = ["Upload a file", "Paste text", "Upload vectors"]
SOURCES = ["Sample", PROJECTS, *UPLOADS]
HOSTED_SOURCES = [PROJECTS, "Sample"]
VECTOR_FORMATS = ["npy", "csv", "tsv", "parquet"]


def read_upload(upload) -> pd.DataFrame:
    """Parse this session's uploaded file once (a rerun with the same upload reads nothing)."""
    with st.spinner("Reading the file…"):
        return state.parsed_upload(
            upload.file_id, lambda: read_table(upload.getvalue(), upload.name)
        )


def choose_sample() -> Corpus:
    samples = list_samples()
    default = samples.index(DEFAULT_SAMPLE) if DEFAULT_SAMPLE in samples else 0
    name = st.selectbox("Sample corpus", samples, index=default, key="corpus_sample")
    return sample_corpus(name)


def project_label(project: ProjectSummary) -> str:
    """How a project reads in the picker: its title, size and save date (plain text)."""
    return f"{project.title} · {project.n_docs:,} documents · saved {project.created[:10]}"


def choose_project(is_hosted: bool) -> None:
    """The saved projects this server lists, and an Open button that shows one on the Map page."""
    try:
        listing = saved_projects()
    except EmbedscopeError as error:
        show_error(error)
        return
    if listing.missing:
        st.warning(md(f"Not in this server's store: {', '.join(listing.missing)}."))
    if not listing.projects and is_hosted:
        st.info("This server offers no saved projects yet; open a bundled sample instead.")
        return
    if not listing.projects:
        st.info(
            'No saved projects yet. Save one on the Map page ("Save, share and export"), or '
            "precompute a big corpus on the server: `python -m lib.precompute corpus.csv "
            '--text-column text --title "My corpus"` (also installed as `embedscope-precompute`).'
        )
        return
    projects = {project.id: project for project in listing.projects}
    overview = pd.DataFrame(
        {
            "title": [p.title for p in listing.projects],
            "documents": [p.n_docs for p in listing.projects],
            "model": [p.model_name or "uploaded vectors" for p in listing.projects],
            "saved (UTC)": [p.created[:16].replace("T", " ") for p in listing.projects],
        }
    )
    numbers = {"documents": st.column_config.NumberColumn(format="localized")}
    st.dataframe(overview, hide_index=True, column_config=numbers)
    chosen = st.selectbox(
        "Project", list(projects), format_func=lambda i: project_label(projects[i]),
        key="corpus_project",
    )  # fmt: skip
    if st.button("Open project", type="primary", key="corpus_open"):
        try:
            open_project(chosen)
        except EmbedscopeError as error:
            show_error(error)
        else:
            st.switch_page("pages/map.py")


def choose_upload() -> Corpus | None:
    upload = st.file_uploader(
        "CSV, TSV, TXT (one document per line), JSONL, JSON or Parquet",
        type=list(SUPPORTED_FORMATS),
        key="corpus_upload",
    )
    if upload is None:
        return None
    frame = read_upload(upload)
    columns = list(frame.columns)
    try:
        guessed = columns.index(guess_text_column(frame))
    except EmbedscopeError as error:
        st.warning(md(error))
        guessed = 0
    column = st.selectbox("Text column", columns, index=guessed, key="corpus_column")
    return corpus_from_frame(frame, column, source=upload.name)


def choose_pasted() -> Corpus | None:
    text = st.text_area("One document per line", height=220, key="corpus_paste")
    return corpus_from_pasted(text) if text.strip() else None


def choose_vectors() -> UploadedVectors | None:
    st.caption(
        "Images, audio or any other items: upload vectors computed elsewhere. Accepted: a .npy "
        "matrix (plus an optional metadata CSV/TSV with one row per vector), a CSV/Parquet table "
        "with numeric columns or one list column, or the TensorFlow Projector pair vectors.tsv + "
        "metadata.tsv."
    )
    files = st.file_uploader(
        "Vector files", type=VECTOR_FORMATS, accept_multiple_files=True, key="corpus_vector_files"
    )
    if not files:
        return None
    contents = {file.name: file.getvalue() for file in files}
    uploaded = load_vectors(contents)
    columns = list(uploaded.corpus.metadata.columns)
    if columns:
        label = st.selectbox("Label points by", ["(row number)", *columns], key="corpus_vec_label")
        if label in columns:
            uploaded = load_vectors(contents, text_column=label)
    rows, dims = uploaded.vectors.shape
    st.caption(f"{rows:,} vectors of {dims} dimensions (normalised to unit length).")
    return uploaded


def show_preview(corpus: Corpus) -> None:
    facts = [f"{len(corpus):,} documents", f"text column '{corpus.text_column}'"]
    if corpus.n_blank_dropped:
        facts.append(f"{corpus.n_blank_dropped:,} blank rows dropped")
    if corpus.n_duplicates:
        facts.append(f"{corpus.n_duplicates:,} duplicate texts (kept, embedded once)")
    if corpus.n_truncated:
        facts.append(f"{corpus.n_truncated:,} very long texts truncated")
    if corpus.encoding not in ("utf-8", "utf-8-sig"):
        facts.append(f"decoded as {corpus.encoding}")
    st.caption(md(" · ".join(facts)))
    preview = corpus.metadata.head(50).copy()
    preview.insert(0, "text", list(corpus.texts[:50]))
    st.dataframe(preview, hide_index=True, height=280)


def choose_model(others: bool) -> str:
    """The model to embed with: with `others` every bundled model and any sentence-transformers
    name or folder; without (a hosted server) the default model only."""
    bundled = {info.name: info for info in available_models()}
    options = [*bundled, OTHER_MODEL] if others else [DEFAULT_MODEL]
    choice = st.selectbox("Embedding model", options, key="corpus_model")
    if choice != OTHER_MODEL:
        st.caption(f"{bundled[choice].note} {bundled[choice].speed_note()}")
        return choice
    return st.text_input(
        "Model name or local folder",
        key="corpus_model_name",
        max_chars=500,
        help="A sentence-transformers model name (downloaded when this server is online) "
        "or a path to a sentence-transformers folder on the server.",
    ).strip()


def show_cost(corpus: Corpus, model_name: str) -> None:
    """Before the click: how long embedding should take here, and how many documents the model
    reads only in part (estimated from their length)."""
    if is_bundled_sample(corpus) and shipped_vectors(corpus.content_hash, model_name) is not None:
        st.caption("Embedding: none needed, this sample's vectors ship with the app.")
    else:
        st.caption(f"Embedding: {estimate_embedding(model_name, corpus.texts).summary()}.")
    max_tokens = model_max_tokens(model_name)
    n_long = estimate_truncated(corpus.texts, max_tokens) if max_tokens else 0
    if n_long:
        st.caption(
            f"About {n_long:,} documents are longer than the model reads ({max_tokens} tokens, "
            f"roughly {max_tokens * CHARS_PER_TOKEN:,} characters): only their beginning is "
            "embedded."
        )


is_hosted = hosted().hosted
st.title("Corpus")
if is_hosted:
    st.caption(
        "Uploads are off on this server: open one of its saved projects or a bundled sample."
    )
else:
    st.caption(
        f"Bring up to {MAX_DOCUMENTS:,} short documents; each becomes a point on the map. "
        "Larger corpora: precompute them from the command line (see the README)."
    )


def current_duplicates() -> None:
    """Near-duplicates of the corpus the session shows now (embedded already)."""
    try:
        corpus = active_corpus()
        found = active_embedding(corpus)
    except EmbedscopeError as error:
        show_error(error)
        return
    duplicates_section(corpus, found)


with st.expander("Near-duplicates in the corpus shown now", icon=":material/content_copy:"):
    current_duplicates()
sources = HOSTED_SOURCES if is_hosted else SOURCES
source = st.segmented_control("Source", sources, default=sources[0], key="corpus_source")
if source == PROJECTS:
    choose_project(is_hosted)
    st.stop()
uploads = dict(zip(UPLOADS, [choose_upload, choose_pasted, choose_vectors], strict=True))
chooser = choose_sample if is_hosted else uploads.get(source, choose_sample)
try:
    candidate = chooser()
except EmbedscopeError as error:
    show_error(error)
    candidate = None

if isinstance(candidate, UploadedVectors):
    show_preview(candidate.corpus)
    if st.button("Map these vectors", type="primary"):
        show_vectors(candidate.corpus, candidate.vectors)
        st.switch_page("pages/map.py")
    st.stop()
if candidate is not None:
    show_preview(candidate)
model_name = choose_model(others=not is_hosted)
if candidate is not None and model_name:
    show_cost(candidate, model_name)
if st.button("Embed and map", type="primary", disabled=candidate is None or not model_name):
    try:
        corpus_embedding(candidate, model_name)
    except EmbedscopeError as error:
        show_error(error)
    else:
        set_corpus(candidate, model_name)
        st.switch_page("pages/map.py")
