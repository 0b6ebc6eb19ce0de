"""README's "Using the engine from Python" snippet runs as written (real model, own data home)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def engine_snippet() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Using the engine from Python", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.model
def test_the_engine_snippet_runs_and_prints_real_shapes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path))
    exec(compile(engine_snippet(), "README.md", "exec"), {})
    shapes = capsys.readouterr().out.split()
    assert shapes[:4] == ["(800,", "384)", "(800,", "2)"]
    assert int(shapes[4]) >= 2  # clusters found (their quality is tested in test_cluster.py)
    assert shapes[5:] == ["(1,", "2)"]
