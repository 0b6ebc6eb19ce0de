"""Precompute a saved project from a corpus file: embed (in-process or on Ray), map, cluster, save.

    python -m lib.precompute corpus.csv --text-column text --title "Support tickets"

The project is written to the store the app reads (`EMBEDSCOPE_HOME`, or `--home DIR`), so the
app lists it and `/map?project=ID` opens it. Embeddings go through the same persistent cache as
the app's: a run stopped half way embeds only what is missing when started again. Above
`--sample-size` documents UMAP is fitted on a seeded sample and the rest is placed by transform
(see lib/reduce/scale.py). `precompute()` is the same pipeline for Python callers.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from lib.cluster.clusters import METHODS, SPACES, ClusterParams
from lib.embed.models import DEFAULT_MODEL, TextModel, load_model
from lib.errors import EmbedscopeError, check_choice, check_int
from lib.ingest.corpus import Corpus, load_corpus
from lib.reduce.layouts import PCAParams, UMAPParams
from lib.reduce.scale import SAMPLE_SIZE, ScaleParams
from lib.service.engine import Embedding, Engine
from lib.share.projects import PROJECT_PARAM, Project, ProjectStore, ProjectView, _check_title
from lib.store.caches import default_home, text_key

if TYPE_CHECKING:
    from lib.batch.ray_engine import RaySettings

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")
NO_LIMIT = sys.maxsize  # documents and bytes: the command line is bounded by memory only
PROJECTS_DIR = "projects"
STAGE_LABELS = {"embed": "embedding", "place": "placing points"}
CHATTY_LOGGERS = ("ray", "ray.data")  # they log each Dataset run at INFO on their own handlers
DEFAULT_LAYOUT = UMAPParams()
DEFAULT_CLUSTERING = ClusterParams()
DEFAULT_SCALE = ScaleParams()

StageProgress = Callable[[str, int, int], None]


def share_path(project_id: str) -> str:
    """The app path that opens a saved project on the Map page, the app's front page: /?project=ID
    (/map is the front page's file name, not an address: Streamlit says "Page not found")."""
    return f"/?{PROJECT_PARAM}={project_id}"


def precompute(
    corpus_path: str | Path,
    *,
    title: str,
    text_column: str | None = None,
    model: str | TextModel = DEFAULT_MODEL,
    layout: UMAPParams | PCAParams = DEFAULT_LAYOUT,
    clustering: ClusterParams = DEFAULT_CLUSTERING,
    engine: str = "local",
    ray_address: str | None = None,
    ray_actors: int = 2,
    batch_size: int = 64,
    scale: ScaleParams = DEFAULT_SCALE,
    home: str | Path | None = None,
    progress: StageProgress | None = None,
) -> Project:
    """Load, embed, map, cluster and save a corpus file as a project the app opens.

    `model` is a model name (as in the app) or a loaded TextModel. `engine` "ray" embeds on
    Ray Data (`ray_address` of a running cluster, else a local Ray) with `ray_actors` model
    replicas. `home` is the data folder (default: `EMBEDSCOPE_HOME`); its embedding cache is
    reused and filled. `progress(stage, done, total)` reports "embed" and "place" stages.
    """
    check_choice("precompute", "engine", engine, ENGINES)
    check_int("precompute", "batch_size", batch_size, 1)
    title = _check_title(title)  # before hours of work, not at the save
    settings = _ray_settings(ray_address, ray_actors) if engine == "ray" else None
    folder = Path(home).expanduser() if home is not None else default_home()
    corpus = load_corpus(
        Path(corpus_path), text_column=text_column, max_documents=NO_LIMIT, max_bytes=NO_LIMIT
    )
    model_name = model if isinstance(model, str) else model.model_id
    engine = Engine(folder, model_loader=load_model if isinstance(model, str) else lambda _: model)
    engine.model(model_name)  # a model that cannot load fails before anything is logged
    logger.info("%s: %s documents (column %r), model %s", corpus.source, f"{len(corpus):,}",
                corpus.text_column, model_name)  # fmt: skip
    try:
        found = _embed(corpus, model, engine, settings, batch_size, progress)
    finally:
        engine.embedding_cache.close()
    mapped = engine.layout_at_scale(found, layout, scale, _stage(progress, "place"))
    clusters = engine.clusters_at_scale(found, corpus, clustering, mapped)
    vectors = found.vectors
    view = ProjectView.from_params(layout, clustering, dimensions=layout.n_components)
    project = ProjectStore(folder / PROJECTS_DIR).save(
        title=title, model_name=model_name, corpus=corpus, vectors=vectors, coords=mapped.coords,
        cluster_labels=clusters.labels, cluster_names=clusters.names, view=view,
        extra={"fitted_mask": mapped.fitted_mask},
    )  # fmt: skip
    fitted = f"{int(mapped.fitted_mask.sum()):,}"
    logger.info("saved project %s: %d clusters, map fitted on %s of %s points", project.id,
                clusters.n_clusters, fitted, f"{len(corpus):,}")  # fmt: skip
    return project


def _ray_settings(address: str | None, actors: int) -> RaySettings:
    """RaySettings for the run, checking first that Ray is installed (ray_engine is lazy)."""
    from lib.batch.ray_engine import RaySettings, require_ray

    settings = RaySettings(address=address, actors=actors)
    require_ray()
    return settings


def _embed(
    corpus: Corpus,
    model: str | TextModel,
    engine: Engine,
    settings: RaySettings | None,
    batch_size: int,
    progress: StageProgress | None,
) -> Embedding:
    """Vectors of the corpus through the engine (the app's keys and caches: its model id at the
    precision really used): missing ones encoded by the engine, or on Ray first."""
    total = len(corpus)
    started = time.perf_counter()
    embed_progress = _stage(progress, "embed")
    model_name = model if isinstance(model, str) else model.model_id
    text_model = engine.model(model_name)
    keys = [text_key(text) for text in corpus.texts]
    missing = len(set(keys)) - engine.embedding_cache.count_present(text_model.model_id, keys)
    if settings is not None and missing:
        from lib.batch.ray_engine import embed_missing

        embed_missing(
            corpus.texts, model, model_id=text_model.model_id,
            dimension=text_model.dimension, cache=engine.embedding_cache, settings=settings,
            batch_size=batch_size, progress=embed_progress,
        )  # fmt: skip
    found = engine.vectors(corpus, model_name, progress=embed_progress, batch_size=batch_size)
    logger.info("reused %s of %s from the cache; embedded %s in %.1f s", f"{total - missing:,}",
                f"{total:,}", f"{missing:,}", time.perf_counter() - started)  # fmt: skip
    return found


def _stage(progress: StageProgress | None, stage: str) -> Callable[[int, int], None] | None:
    """A (done, total) callback that reports to `progress` under `stage`."""
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


class TerminalProgress:
    """A one-line progress bar on a stream: stage, count, items per second and ETA, in place.

    The rate counts only items done since the stage started (cache hits reported at once do not
    inflate it). Redraws at most every `min_interval` seconds and always at the end of a stage.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        min_interval: float = 0.2,
        width: int = 24,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.min_interval = min_interval
        self.width = width
        self.clock = clock
        self._stage: str | None = None
        self._open = False
        self._started = self._last = 0.0
        self._first_done = 0
        self._line_length = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        if stage != self._stage:
            self.close()
            self._stage, self._started, self._first_done = stage, now, done
        elif done < total and now - self._last < self.min_interval:
            return
        self._last = now
        line = self.render(stage, done, total, now - self._started)
        self.stream.write("\r" + line.ljust(self._line_length))
        self.stream.flush()
        self._open, self._line_length = True, len(line)
        if done >= total:
            self.close()

    def render(self, stage: str, done: int, total: int, elapsed: float) -> str:
        """The bar's text, e.g. 'embedding [######----]  1,200/2,000  60% · 410/s · ETA 2s'."""
        share = done / total if total else 1.0
        filled = round(share * self.width)
        worked = done - self._first_done
        rate = worked / elapsed if elapsed > 0 and worked > 0 else 0.0
        eta = _duration((total - done) / rate) if rate > 0 else ("0s" if done >= total else "--")
        return (
            f"{STAGE_LABELS.get(stage, stage)} [{'#' * filled}{'-' * (self.width - filled)}] "
            f"{done:,}/{total:,} {share:4.0%} · {rate:,.0f}/s · ETA {eta}"
        )

    def close(self) -> None:
        """End the current bar's line (before any other output)."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open, self._line_length = False, 0


def _duration(seconds: float) -> str:
    """'42s', '3m05s' or '2h07m'."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def build_parser() -> argparse.ArgumentParser:
    """The command line of `python -m lib.precompute`."""
    parser = argparse.ArgumentParser(
        prog="python -m lib.precompute",
        description="Embed, map and cluster a corpus file into a saved project the app opens.",
    )
    parser.add_argument("corpus", help="a .csv, .tsv, .txt, .jsonl, .json or .parquet file")
    parser.add_argument("--text-column", help="column holding the documents (default: guessed)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"default: {DEFAULT_MODEL}")
    parser.add_argument("--title", help="project title (default: the file name)")
    parser.add_argument("--n-neighbors", type=int, default=DEFAULT_LAYOUT.n_neighbors)
    parser.add_argument("--min-dist", type=float, default=DEFAULT_LAYOUT.min_dist)
    parser.add_argument("--dims", type=int, choices=(2, 3), default=DEFAULT_LAYOUT.n_components)
    parser.add_argument("--cluster", choices=METHODS, default=DEFAULT_CLUSTERING.method)
    parser.add_argument(
        "--min-cluster-size", type=int, help="HDBSCAN; default: 1%% of the documents, at least 10"
    )
    parser.add_argument("--n-clusters", type=int, default=DEFAULT_CLUSTERING.n_clusters)
    parser.add_argument(
        "--cluster-space", choices=SPACES, help="default: the method's own (kmeans: embeddings, "
        "hdbscan: the map)",
    )  # fmt: skip
    parser.add_argument("--engine", choices=ENGINES, default="local")
    parser.add_argument("--ray-address", help="address of a running Ray cluster (default: local)")
    parser.add_argument("--ray-actors", type=int, default=2, help="model replicas on Ray")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--sample-size",
        type=int,
        default=SAMPLE_SIZE,
        help="above this many documents UMAP is fitted on a sample and the rest placed",
    )
    parser.add_argument("--home", help="data folder of the app (default: $EMBEDSCOPE_HOME)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show library logs too")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 bad input, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    bar = TerminalProgress(sys.stderr, min_interval=0.2 if sys.stderr.isatty() else 5.0)
    try:
        with _cli_logging(args.verbose, ray=args.engine == "ray"):
            project = precompute(
                args.corpus,
                title=args.title or Path(args.corpus).name,
                text_column=args.text_column,
                model=args.model,
                layout=UMAPParams(
                    n_neighbors=args.n_neighbors, min_dist=args.min_dist, n_components=args.dims
                ),
                clustering=ClusterParams(
                    method=args.cluster,
                    min_cluster_size=args.min_cluster_size,
                    n_clusters=args.n_clusters,
                    space=args.cluster_space,
                ),
                engine=args.engine,
                ray_address=args.ray_address,
                ray_actors=args.ray_actors,
                batch_size=args.batch_size,
                scale=ScaleParams(sample_size=args.sample_size),
                home=args.home,
                progress=bar,
            )
    except EmbedscopeError as error:
        bar.close()
        sys.stderr.write(f"error: {' '.join(str(error).split())}\n")
        return 1
    except KeyboardInterrupt:
        bar.close()
        sys.stderr.write(
            "interrupted: the vectors embedded so far are cached; run the same command "
            "again to resume.\n"
        )
        return 130
    sys.stdout.write(f"{project.id}\n{share_path(project.id)}\n")
    return 0


@contextmanager
def _cli_logging(verbose: bool, *, ray: bool = False) -> Iterator[None]:
    """Our summary lines on stderr; library logs and warnings only with --verbose (then undone).

    With `ray`, Ray Data is imported first: it installs its own console handler on import.
    """
    if ray:
        from lib.batch.ray_engine import require_ray

        require_ray()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s" if verbose else "%(message)s"))
    root, ours = logging.getLogger(), logging.getLogger(__name__)
    quiet = logging.NullHandler()  # records with no handler would reach logging's lastResort
    noisy = [logging.getLogger(name) for name in CHATTY_LOGGERS]
    saved = (root.level, ours.level, ours.propagate, [item.level for item in noisy])
    if verbose:
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    else:
        root.addHandler(quiet)
        ours.addHandler(handler)
        ours.setLevel(logging.INFO)
        ours.propagate = False
        for item in noisy:
            item.setLevel(logging.ERROR)
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)
        root.removeHandler(quiet)
        ours.removeHandler(handler)
        root.setLevel(saved[0])
        ours.setLevel(saved[1])
        ours.propagate = saved[2]
        for item, level in zip(noisy, saved[3], strict=True):
            item.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
