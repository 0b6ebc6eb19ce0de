"""Fuzz every input a stranger controls: corpus files, vectors, expressions, ids, share links.

Each target feeds bytes to one public lib entry point. Only EmbedscopeError (our messages) may
escape it; anything else is an unhandled exception, logged with the input that caused it.

    nice -n 19 .venv/bin/python bench/fuzz.py                       # every target, 120 s each
    nice -n 19 .venv/bin/python bench/fuzz.py --seconds 30 --only expression corpus_csv
    nice -n 19 .venv/bin/python bench/fuzz.py --engine hypothesis    # property-based only

Engines: "atheris" (coverage-guided libFuzzer over the instrumented `lib` package, used when
atheris is installed) and "hypothesis" (seeded property-based generation: seed files spliced with
random bytes, plus text over each format's special characters). Each target runs in its own
subprocess for `--seconds` (or until `--runs` executions), so a hard crash or a libFuzzer
timeout (`--timeout`, seconds per input) is reported against its target and the others go on.
Inputs that failed are written under `--crash-dir`. Prints one table: executions per target,
executions per second, unhandled exceptions (distinct type and place), and the total.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import io
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("EMBEDSCOPE_WARM_UP", "0")

MAX_INPUT_BYTES = 4096
FUZZED_MODULES = ("lib.ingest.corpus", "lib.ingest.vectors", "lib.figures.map",
                  "lib.query.expressions", "lib.share.bookmarks", "lib.share.projects",
                  "lib.figures.lessons")  # fmt: skip
CORPUS_FORMATS = ("csv", "tsv", "txt", "jsonl", "json", "parquet")
VECTOR_NAMES = ("vectors.npy", "vectors.csv", "vectors.tsv", "vectors.parquet")
METADATA_NAMES = ("metadata.tsv", "metadata.csv", "metadata.parquet")
SPECIALS = {
    "csv": ',"\n\r\t abc1.-e\ufeff\x00',
    "tsv": '\t"\n\r ,abc1.-e\ufeff',
    "txt": "\n\r \u2028abc\ufeff\x00",
    "jsonl": '{}[]":,\n tex1.-e\\u0nul',
    "json": '{}[]":,\n tex1.-e\\u0nul',
    "expression": "\"'#()*+-,.0123456789e mean ab\\\t",
    "link": "&=projectsamplelessonstep0123456789aZ_-#%/.",
    "selection": '{}[]":,selctionpoisuvmadt0123456789.-e',
}
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")


@dataclass(frozen=True)
class Target:
    """One fuzzed entry point: `run(data)` and the seed inputs mutation starts from."""

    name: str
    run: Callable[[bytes], object]
    seeds: tuple[bytes, ...]
    alphabet: str


# --- inputs ---------------------------------------------------------------------------------


def _text(data: bytes) -> str:
    """Bytes as text the way a browser hands a typed string to the server."""
    return data.decode("utf-8", "replace")


def _query(data: bytes) -> dict[str, str | list[str]]:
    """A query string 'a=1&b=2&b=3' as Streamlit's st.query_params (repeated keys as lists)."""
    params: dict[str, str | list[str]] = {}
    for pair in _text(data).split("&"):
        key, _, value = pair.partition("=")
        if key in params:
            previous = params[key]
            params[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            params[key] = value
    return params


def _split(data: bytes) -> tuple[bytes, bytes]:
    """Two files from one input, cut at the first '\\x00\\x00\\x00' (empty second file if none)."""
    first, _, second = data.partition(b"\x00\x00\x00")
    return first, second


# --- targets --------------------------------------------------------------------------------


def _corpus_target(file_format: str) -> Callable[[bytes], object]:
    def run(data: bytes) -> object:
        from lib.ingest.corpus import load_corpus

        corpus = load_corpus(data, filename=f"upload.{file_format}")
        corpus.label_columns()
        return corpus

    return run


def run_pasted(data: bytes) -> object:
    from lib.ingest.corpus import corpus_from_pasted

    return corpus_from_pasted(_text(data))


def run_vectors(data: bytes) -> object:
    """One vectors file; the first byte picks its name (.npy, .csv, .tsv, .parquet)."""
    from lib.ingest.vectors import load_vectors

    if not data:
        return None
    return load_vectors({VECTOR_NAMES[data[0] % len(VECTOR_NAMES)]: data[1:]})


def run_vectors_pair(data: bytes) -> object:
    """Vectors plus metadata; the first byte picks both names, a text column is sometimes asked."""
    from lib.ingest.vectors import load_vectors

    if not data:
        return None
    vectors, metadata = _split(data[1:])
    names = (VECTOR_NAMES[data[0] % 4], METADATA_NAMES[(data[0] // 4) % 3])
    text_column = "label" if data[0] & 0x80 else None
    return load_vectors({names[0]: vectors, names[1]: metadata}, text_column=text_column)


def run_expression(data: bytes) -> object:
    """Parse, evaluate and rank against 12 documents with a deterministic fake text model."""
    import numpy as np

    from lib.query.expressions import evaluate, parse_expression, pointer, rank

    source = _text(data)
    try:
        expression = parse_expression(source)
    except Exception as error:
        position = getattr(error, "position", None)
        if position is not None:
            pointer(source, position)
        raise
    docs = _unit(np.random.default_rng(0).normal(size=(12, 8)))
    result = evaluate(expression, embed=_fake_embed, doc_vectors=docs)
    return rank(docs, result, k=5)


def _fake_embed(texts: list[str]):
    import numpy as np

    digests = [hashlib.sha256(text.encode("utf-8", "replace")).digest() for text in texts]
    rows = [np.random.default_rng(int.from_bytes(d[:8])).normal(size=8) for d in digests]
    return np.stack(rows).astype("f4")


def _unit(matrix):
    import numpy as np

    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def run_ids(data: bytes) -> object:
    """Project and lesson ids as typed or pasted."""
    from lib.share.bookmarks import check_lesson_id
    from lib.share.projects import check_project_id, is_valid_project_id

    text = _text(data)
    is_valid_project_id(text)
    try:
        check_project_id(text)
    finally:
        check_lesson_id(text)


def run_share_link(data: bytes) -> object:
    """Every share-link parameter: project, sample, lesson, step (and their links rebuilt)."""
    from lib.share.bookmarks import lesson_query, lesson_target
    from lib.share.projects import share_query, share_target

    params = _query(data)
    target = share_target(params)
    if target is not None:
        share_query(**{"project_id" if target.kind == "project" else "sample": target.name})
    link = lesson_target({k: v for k, v in params.items() if isinstance(v, str)})
    if link is not None:
        lesson_query(link.lesson_id, link.step)
    return target, link


def run_rows(data: bytes) -> object:
    """Document ids typed into a lesson step ("12, 40 #7"); the first byte sets the corpus size."""
    from lib.share.bookmarks import parse_rows

    if not data:
        return None
    return parse_rows(_text(data[1:]), data[0] * 4)


def run_selection(data: bytes) -> object:
    """A chart selection event as the browser sends it (JSON), against a 100-row table."""
    from lib.figures.map import selected_points, selected_rows

    try:
        event = json.loads(data)
    except (ValueError, RecursionError):
        return None
    rows = selected_rows(event, n_rows=100)
    if any(not 0 <= row < 100 for row in rows):
        raise AssertionError(f"selected_rows returned rows outside the table: {rows}")
    return rows, selected_points(event)


def run_lesson_click(data: bytes) -> object:
    """A click on the lessons page's guessing map (grid cells "g:<n>" or rows), as JSON."""
    import numpy as np

    from lib.figures.lessons import clicked_guess

    try:
        event = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return clicked_guess(event, np.zeros((100, 2)), np.zeros((16, 2)))


def _seeds() -> dict[str, tuple[bytes, ...]]:
    """Small valid inputs per target, the starting points for mutation."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"text": ["a rocket", "a recipe", "a goal"], "label": ["x", "y", "x"]})
    parquet = io.BytesIO()
    frame.to_parquet(parquet)
    vectors = pd.DataFrame({"dim_0": [0.1, 0.5, 1.0], "dim_1": [1.0, 0.2, -0.3], "label": "abc"})
    vector_parquet = io.BytesIO()
    vectors.to_parquet(vector_parquet)
    npy = io.BytesIO()
    np.save(npy, np.arange(6, dtype=np.float32).reshape(3, 2) + 1)
    return {
        "csv": (b"text,label\na rocket,x\n\"a, recipe\",y\n", b"a,a,\n1,2,3\n"),
        "tsv": (b"text\tlabel\na rocket\tx\na recipe\ty\n",),
        "txt": (b"one line\r\ntwo\n\n three\n", "\ufeffcaf\u00e9\n".encode()),
        "jsonl": (b'{"text": "a rocket", "n": 1}\n{"text": "b", "x": [1]}\n',),
        "json": (b'[{"text": "a rocket"}, {"text": "b", "label": null}]',),
        "parquet": (parquet.getvalue(),),
        "vectors": (b"\x00" + npy.getvalue(), b"\x01dim_0,dim_1\n1,2\n3,4\n",
                    b"\x02" + b"1\t2\n3\t4\n", b"\x03" + vector_parquet.getvalue(),
                    b'\x01vec,label\n"[1, 2]",a\n"[3,4]",b\n'),
        "vectors_pair": (b"\x02" + b"1\t2\n3\t4\n\x00\x00\x00a\nb\n",
                         b"\x80" + npy.getvalue() + b"\x00\x00\x00label\tx\na\t1\nb\t2\nc\t3\n"),
        "expression": (b'"king" - "man" + "woman"', b"mean(#1, 0.5*#2) - 2*(a b + 'c\\'d')",
                       b"#1*1e40", b"1e308*#1 + -3 * sunny"),
        "ids": (b"abcdefghijklmnop1234", b"A_-" * 8),
        "share_link": (b"project=abcdefghijklmnop1234",
                       b"sample=topics&lesson=abcdefghijklmnopq&step=2",
                       b"project=a&project=abcdefghijklmnop1234&sample="),
        "rows": (b"\x1012, 40 #7", b"\x01#0;1 2"),
        "selection": (b'{"selection": {"points": [{"customdata": [3]}, '
                      b'{"customdata": {"0": 1e300}}]}}',
                      b'{"selection": {"points": [{"curve_number": 0, "point_number": 5}]}}'),
        "lesson_click": (b'{"selection": {"points": [{"customdata": ["g:3"]}, '
                         b'{"customdata": 7}]}}',),
    }  # fmt: skip


def targets() -> dict[str, Target]:
    """Every fuzz target by name."""
    seeds = _seeds()
    found = {
        f"corpus_{fmt}": Target(f"corpus_{fmt}", _corpus_target(fmt), seeds[fmt],
                                SPECIALS.get(fmt, SPECIALS["csv"]))
        for fmt in CORPUS_FORMATS
    }  # fmt: skip
    for name, run, alphabet in (
        ("corpus_pasted", run_pasted, SPECIALS["txt"]),
        ("vectors", run_vectors, SPECIALS["csv"]),
        ("vectors_pair", run_vectors_pair, SPECIALS["tsv"]),
        ("expression", run_expression, SPECIALS["expression"]),
        ("ids", run_ids, SPECIALS["link"]),
        ("share_link", run_share_link, SPECIALS["link"]),
        ("rows", run_rows, SPECIALS["link"]),
        ("selection", run_selection, SPECIALS["selection"]),
        ("lesson_click", run_lesson_click, SPECIALS["selection"] + "g\u00b2"),
    ):
        key = name.removeprefix("corpus_").replace("pasted", "txt")
        found[name] = Target(name, run, seeds[key], alphabet)
    return found


# --- one execution --------------------------------------------------------------------------


def execute(target: Target, data: bytes) -> BaseException | None:
    """Run one input; return the exception if it is not one of ours (None when handled)."""
    from lib.errors import EmbedscopeError

    try:
        target.run(data)
    except EmbedscopeError:
        return None
    except Exception as error:  # any other exception is a finding
        return error
    return None


def crash_key(error: BaseException) -> str:
    """Type and innermost lib/ frame: one line per distinct bug."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if "/lib/" in frame.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(error).__name__} at {where}"


class Recorder:
    """Counts executions and writes the first input of every distinct crash to `crash_dir`."""

    def __init__(self, target: Target, crash_dir: Path) -> None:
        self.target, self.crash_dir = target, crash_dir
        self.executions = 0
        self.crashes: dict[str, str] = {}

    def __call__(self, data: bytes) -> None:
        self.executions += 1
        error = execute(self.target, data)
        if error is None:
            return
        key = crash_key(error)
        if key not in self.crashes:
            path = self.crash_dir / f"{self.target.name}-{hashlib.sha1(data).hexdigest()[:12]}"
            path.write_bytes(data)
            self.crashes[key] = str(path)
            message = str(error)[:200]
            print(f"CRASH {self.target.name}: {key}: {message!r} input={path}", flush=True)

    def report(self, seconds: float) -> None:
        """One JSON line the parent reads."""
        line = {"executions": self.executions, "seconds": seconds, "crashes": self.crashes}
        print("RESULT " + json.dumps(line), flush=True)


# --- engines --------------------------------------------------------------------------------


def run_hypothesis(target: Target, recorder: Recorder, seconds: float, runs: int) -> None:
    """Seeded generation in rounds of 2,000 examples until the time or the run budget is spent."""
    from hypothesis import HealthCheck, Phase, given, seed, settings

    strategy = input_strategy(target)
    deadline = time.monotonic() + seconds
    round_number = 0
    while time.monotonic() < deadline and recorder.executions < runs:
        size = min(2000, runs - recorder.executions)

        @seed(round_number)
        @settings(
            max_examples=size,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def round_(data: bytes) -> None:
            if time.monotonic() < deadline:
                recorder(data)

        round_()
        round_number += 1  # fmt: skip


def input_strategy(target: Target):
    """Seeds with random bytes spliced in, text over the format's specials, and raw bytes."""
    from hypothesis import strategies as st

    def splice(parts: tuple[bytes, int, int, bytes]) -> bytes:
        data, at, cut, insert = parts
        at %= len(data) + 1
        return data[:at] + insert + data[at + cut % 8 :]

    spliced = st.tuples(
        st.sampled_from(target.seeds), st.integers(0, 1 << 16), st.integers(0, 64),
        st.binary(max_size=16) | st.text(target.alphabet, max_size=16).map(str.encode),
    ).map(splice)  # fmt: skip
    specials = st.text(st.sampled_from(target.alphabet) | st.characters(), max_size=400)
    return st.one_of(spliced, specials.map(lambda text: text.encode("utf-8", "surrogatepass")),
                     st.binary(max_size=MAX_INPUT_BYTES))  # fmt: skip


def run_atheris(
    target: Target, recorder: Recorder, seconds: float, runs: int, timeout: int
) -> None:
    """libFuzzer over the seeds; lib/ is instrumented for coverage. Never returns."""
    import atheris

    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{target.name}-"))
    for number, data in enumerate(target.seeds):
        (corpus / f"seed{number}").write_bytes(data)
    started = time.monotonic()
    budget = runs if runs > 0 else -1

    def one_input(data: bytes) -> None:
        recorder(data)
        if recorder.executions >= budget > 0 or time.monotonic() - started > seconds:
            recorder.report(time.monotonic() - started)
            os._exit(0)

    argv = [sys.argv[0], str(corpus), f"-max_len={MAX_INPUT_BYTES}", f"-timeout={timeout}",
            f"-max_total_time={int(seconds) + 5}", "-rss_limit_mb=4096", "-print_final_stats=1",
            f"-artifact_prefix={recorder.crash_dir}/{target.name}-"]  # fmt: skip
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


def worker(args: argparse.Namespace) -> None:
    """Fuzz one target in this process and print its RESULT line."""
    if args.engine == "atheris":
        import atheris

        with atheris.instrument_imports(include=["lib"]):
            for module in FUZZED_MODULES:
                importlib.import_module(module)
    target = targets()[args.worker]
    recorder = Recorder(target, Path(args.crash_dir))
    started = time.monotonic()
    if args.engine == "atheris":
        run_atheris(target, recorder, args.seconds, args.runs, args.timeout)
    else:
        run_hypothesis(target, recorder, args.seconds, args.runs)
    recorder.report(time.monotonic() - started)


# --- the table ------------------------------------------------------------------------------


def fuzz_in_subprocess(name: str, args: argparse.Namespace) -> dict:
    """Run one target's worker; a hard crash or libFuzzer timeout counts as an unhandled failure."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", name,
               "--engine", args.engine, "--seconds", str(args.seconds), "--runs", str(args.runs),
               "--timeout", str(args.timeout), "--crash-dir", args.crash_dir]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False,
                          timeout=args.seconds + 600)  # fmt: skip
    output = done.stdout + done.stderr
    results = [line for line in output.splitlines() if line.startswith("RESULT ")]
    if results:
        return json.loads(results[-1].removeprefix("RESULT "))
    runs = _DONE.search(output)
    reason = next((line for line in output.splitlines() if "ERROR: libFuzzer" in line), "")
    tail = reason or output.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
    return {
        "executions": int(runs.group(1)) if runs else 0,
        "seconds": time.monotonic() - started,
        "crashes": {f"process died: {tail if isinstance(tail, str) else tail[0]}": ""},
    }


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
        return
    Path(args.crash_dir).mkdir(parents=True, exist_ok=True)
    names = args.only or list(targets())
    print(f"# fuzz: engine={args.engine} seconds/target={args.seconds} runs/target={args.runs} "
          f"python={platform.python_version()} {_versions()}", flush=True)  # fmt: skip
    print(f"{'target':<16} {'executions':>12} {'exec/s':>8} {'unhandled':>9}", flush=True)
    total = unhandled = 0
    for name in names:
        result = fuzz_in_subprocess(name, args)
        rate = result["executions"] / max(result["seconds"], 1e-9)
        total += result["executions"]
        unhandled += len(result["crashes"])
        print(f"{name:<16} {result['executions']:>12,} {rate:>8,.0f} {len(result['crashes']):>9}",
              flush=True)  # fmt: skip
        for key, path in result["crashes"].items():
            print(f"    {key} {path}", flush=True)
    print(f"{'total':<16} {total:>12,} {'':>8} {unhandled:>9}", flush=True)


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in ("atheris", "hypothesis", "numpy", "pandas", "pyarrow"):
        try:
            found.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            found.append(f"{package}=missing")
    return " ".join(found)


def parse_args() -> argparse.Namespace:
    try:
        import atheris  # noqa: F401

        default_engine = "atheris"
    except ImportError:
        default_engine = "hypothesis"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("atheris", "hypothesis"), default=default_engine)
    parser.add_argument("--seconds", type=float, default=120.0, help="budget per target")
    parser.add_argument("--runs", type=int, default=10**9, help="executions per target at most")
    parser.add_argument("--timeout", type=int, default=20, help="seconds one input may take")
    parser.add_argument("--only", nargs="+", metavar="TARGET", help="fuzz only these targets")
    parser.add_argument("--crash-dir", default=str(Path(tempfile.gettempdir()) / "embedscope-fuzz"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    main()
