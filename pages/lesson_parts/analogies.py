"""Lesson 9 · Analogies, honestly: what 3CosAdd answers with and without the question's words."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.errors import EmbedscopeError
from lib.figures.lessons import analogy_axes_figure, input_gap, score_bars
from lib.figures.tables import INPUT_COLUMN, hits_table
from lib.query.words import analogy, word_expression
from lib.teach.lessons import AnalogyBenchmark, analogy_axes, load_analogies
from pages import state
from pages._common import engine, md, show_error
from pages.lesson_parts.common import glove, number_column

HITS = 10
MAX_WORD_CHARS = 40


def benchmark() -> AnalogyBenchmark:
    """data/analogies.csv through 3CosAdd (inputs excluded), unrestricted, and c alone."""
    glove()  # a spinner while GloVe loads, the first time
    with st.spinner("Answering every analogy question three ways…"):
        return engine().analogies()


def grey_inputs(row: pd.Series) -> list[str]:
    return ["color: #9e9e9e" if row[INPUT_COLUMN] else ""] * len(row)


def show() -> None:
    st.markdown(
        "*man is to king as woman is to …?* The famous answer **queen** comes from the word "
        "nearest to king − man + woman, **after the question's own words are removed** from the "
        "candidates. Left in, the nearest word is usually one of them. And often the answer is "
        "simply the word nearest to **c** alone. The plot separates the two parts: across, how "
        "much a word moves along b − a; up, how close it is to c."
    )
    vocabulary = glove()
    st.caption(
        f"GloVe 6B: {len(vocabulary.words):,} lowercase words in "
        f"{vocabulary.vectors.shape[1]} dimensions, compared by cosine."
    )
    columns = st.columns(3)
    labels = (("a", "man"), ("is to b", "king"), ("as c is to ?", "woman"))
    a, b, c = (
        column.text_input(label, default, max_chars=MAX_WORD_CHARS, key=f"lessons_analogy_{name}")
        for column, (label, default), name in zip(columns, labels, "abc", strict=True)
    )
    exclude = st.toggle(
        "Exclude the question's words (the usual, rarely stated rule)",
        value=False,
        key="lessons_analogy_exclude",
    )
    try:
        answer(vocabulary, a, b, c, exclude)
    except EmbedscopeError as error:
        show_error(error)
        return
    run_benchmark()


def answer(vocabulary, a: str, b: str, c: str, exclude: bool) -> None:
    """The ranked answers, the question words' head start, and the plot of both parts."""
    everything = analogy(vocabulary, a, b, c, k=HITS, exclude_inputs=False)
    answers = analogy(vocabulary, a, b, c, k=HITS, exclude_inputs=True)
    gap = input_gap(everything)
    c_alone = word_expression(vocabulary, c, k=1)[1][0]
    question = [word.strip().lower() for word in (a, b, c)]
    candidates = [*question, *(hit.word for hit in everything), c_alone.word]
    axes = analogy_axes(vocabulary, a, b, c, list(dict.fromkeys(candidates)))
    shown = answers if exclude else everything
    rule = "question words excluded" if exclude else "every word allowed"
    ranked, plot = st.columns([2, 3])
    ranked.markdown(f"{md(a)} : {md(b)} :: {md(c)} : **{md(shown[0].word)}** ({rule})")
    table = hits_table(shown, show_inputs=not exclude)
    ranked.dataframe(
        table if exclude else table.style.apply(grey_inputs, axis=1),
        hide_index=True,
        column_config={"cosine": number_column()},
    )
    if gap.top.is_input:
        ranked.markdown(
            f"With every word allowed, **{md(gap.top.word)}** (a question word) wins at "
            f"{gap.top.score:.3f}. Excluding the question's words gives "
            f"**{md(gap.answer.word)}** at {gap.answer.score:.3f}: a gap of **{gap.gap:.3f}**."
        )
    else:
        ranked.markdown(f"**{md(gap.answer.word)}** wins even with every word allowed.")
    same = c_alone.word == gap.answer.word
    ranked.markdown(
        f"The word nearest to **{md(c)}** alone is **{md(c_alone.word)}** "
        f"(cosine {c_alone.score:.3f})" + (": the same answer, no analogy needed." if same else ".")
    )
    figure = analogy_axes_figure(
        axes, a=a, b=b, c=c, answer=gap.answer.word, c_nearest=c_alone.word
    )
    plot.plotly_chart(figure, key="lessons_analogy_axes")


def run_benchmark() -> None:
    """The benchmark over data/analogies.csv, once asked for (it takes a while)."""
    questions = load_analogies()
    st.markdown(
        f"**Benchmark:** {len(questions):,} questions in {questions['relation'].nunique()} "
        "relations (data/analogies.csv), answered three ways."
    )
    if st.button("Run the benchmark", key="lessons_bench_button"):
        state.request_bench()
    if not state.bench_requested():
        return
    try:
        result = benchmark()
    except EmbedscopeError as error:
        show_error(error)
        return
    overall = result.overall
    excluded, unrestricted, c_only = st.columns(3)
    excluded.metric("Inputs excluded (the usual score)", f"{overall['excluded_acc']:.0%}")
    unrestricted.metric("Every word allowed", f"{overall['unrestricted_acc']:.0%}")
    c_only.metric("Nearest word to c alone", f"{overall['c_only_acc']:.0%}")
    table = result.per_relation
    accuracies = {
        "inputs excluded": table["excluded_acc"],
        "every word allowed": table["unrestricted_acc"],
        "c alone": table["c_only_acc"],
    }
    bars = score_bars(
        table["relation"].tolist(), accuracies, y_title="share answered correctly",
        number_format=".0%",
    )  # fmt: skip
    st.plotly_chart(bars, key="lessons_bench_bars")
    with st.expander(f"All {int(overall['n'])} questions and each method's answer"):
        st.dataframe(result.per_question, hide_index=True)
