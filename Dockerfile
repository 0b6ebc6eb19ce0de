# embedscope in one image: CPU-only torch, the default model prepared at build time, a non-root
# user (UID 1000), the data home on a volume at /data. docs/hosting.md has the whole guide.
#
#   docker build -t embedscope .
#   docker run -p 8501:8501 -v embedscope-data:/data embedscope
#   docker run -p 8501:8501 -v embedscope-data:/data -v "$PWD/corpora:/corpora:ro" \
#       -e EMBEDSCOPE_HOSTED=1 embedscope            # a hosted demo built from mounted corpora
#
# Build arguments:
#   BASE_IMAGE       a Debian-based image with python3.11 and its venv module (default: the
#                    official slim image; bench/container.py builds one with debootstrap)
#   TORCH_INDEX_URL  where pip finds the CPU-only torch build (PyPI's Linux torch pulls several GB
#                    of CUDA libraries); an offline build puts a CPU wheel
#                    (torch-2.13.0+cpu-cp311-...whl) in docker/build-extra/wheels/ instead, and
#                    a CA bundle for pip, when one is needed, in docker/build-extra/ca-certificates.crt
#   WITH_CHROMIUM    1 installs Debian's chromium for PNG export (the image grows by 1 GB)
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- deps: a virtualenv with CPU-only torch, then requirements.txt -------------------------------
FROM ${BASE_IMAGE} AS deps
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# this stage's files (a local wheel, a CA bundle) never reach the final image
COPY docker/build-extra/ /tmp/build-extra/
COPY requirements.txt /tmp/requirements.txt
RUN set -eu; \
    if [ -f /tmp/build-extra/ca-certificates.crt ]; then \
        export PIP_CERT=/tmp/build-extra/ca-certificates.crt; fi; \
    python3 -m venv /opt/venv; \
    wheel="$(ls /tmp/build-extra/wheels/torch-"${TORCH_VERSION}"+cpu-*.whl 2>/dev/null | head -n 1)"; \
    if [ -n "$wheel" ]; then /opt/venv/bin/pip install "$wheel"; \
    else /opt/venv/bin/pip install --index-url "$TORCH_INDEX_URL" "torch==${TORCH_VERSION}"; fi; \
    /opt/venv/bin/pip install -r /tmp/requirements.txt; \
    /opt/venv/bin/python -c "import torch; assert torch.version.cuda is None, torch.version.cuda"; \
    /opt/venv/bin/pip check

# --- the app ------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
ARG APP_UID=1000
ARG WITH_CHROMIUM=0
RUN set -eu; \
    useradd --uid "$APP_UID" --user-group --create-home --shell /bin/sh embedscope; \
    if [ "$WITH_CHROMIUM" = 1 ]; then \
        apt-get update && apt-get install -y --no-install-recommends chromium \
        && rm -rf /var/lib/apt/lists/*; fi; \
    mkdir -p /data /opt/embedscope/prepared; \
    chown "$APP_UID:$APP_UID" /data /opt/embedscope/prepared
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
# what the server runs, and nothing else (docker/build-extra/ may hold a 190 MB wheel)
COPY app.py pyproject.toml requirements.txt /app/
COPY .streamlit/ /app/.streamlit/
COPY lib/ /app/lib/
COPY pages/ /app/pages/
COPY data/ /app/data/
COPY docker/entrypoint.sh docker/healthcheck.py /app/docker/
# saved projects shipped with the image (docker/projects/README.md)
COPY docker/projects/ /opt/embedscope/projects/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    EMBEDSCOPE_HOME=/data \
    EMBEDSCOPE_PREPARED=/opt/embedscope/prepared \
    EMBEDSCOPE_SEED_PROJECTS=/opt/embedscope/projects \
    EMBEDSCOPE_CORPORA=/corpora \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false
USER $APP_UID
# The default model's lasting artefacts, made once here and copied into the data home at each
# start (entrypoint.sh): the precision guard's verdict and a converted OpenVINO model where the
# build CPU tries a faster path (bf16), and UMAP's numba kernels compiled for the build CPU.
# They stay outside /data, so a volume mounted there still finds them.
RUN EMBEDSCOPE_HOME="$EMBEDSCOPE_PREPARED" python -m lib.service.warmup --prepare
VOLUME /data
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
