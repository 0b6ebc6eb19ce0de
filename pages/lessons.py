"""Lessons page: eleven short lessons on what embeddings and their maps can and cannot tell.

A router: a lesson link (`?lesson=<id>&step=<n>`, or a lesson this tab already follows) plays
that saved lesson read-only (pages/lesson_parts/player.py); otherwise the visitor picks one of
the lessons below, each a module of pages/lesson_parts/ with a `show()`. Lessons 2 to 8 run on
the session's corpus, 1 and 10 on sentences typed here, 9 and 10 on GloVe words; 11 lets a
teacher save views as a lesson with a link. Only the picked lesson renders.
"""

import streamlit as st

from pages import state
from pages._common import active_corpus, md
from pages.lesson_parts import (
    analogies,
    bookmarks,
    maps,
    models,
    noise,
    opposites,
    parameters,
    placement,
    question,
    seeds,
    similarity,
    sizes,
)
from pages.lesson_parts.player import followed_lesson, play_lesson

state.require_app_frame()  # a direct link on a fresh server: rerun inside app.py's frame

LESSONS = {
    "similarity": ("1 · Guess the similarity", similarity.show),
    "placement": ("2 · Guess the placement", placement.show),
    "maps": ("3 · Same data, different maps", maps.show),
    "parameters": ("4 · Parameters matter", parameters.show),
    "sizes": ("5 · Sizes and gaps lie", sizes.show),
    "noise": ("6 · Noise makes clusters too", noise.show),
    "seeds": ("7 · One map is one sample", seeds.show),
    "question": ("8 · Can this map answer my question?", question.show),
    "analogies": ("9 · Analogies, honestly", analogies.show),
    "opposites": ("10 · Similar is not synonymous", opposites.show),
    "bookmarks": ("11 · Bookmarks make lessons", bookmarks.show),
    "models": ("12 · Which model? Meaning or language", models.show),
}

following = followed_lesson()
if following is not None:
    play_lesson(*following)
    st.stop()

corpus = active_corpus()
st.title("Lessons")
st.caption(
    f"Short lessons on what embeddings and their maps can and cannot tell. Lessons 2–8 use the "
    f"current corpus ({md(corpus.source)}, {len(corpus):,} documents); 9 and 10 use GloVe words."
)
picked = st.pills(
    "Lesson",
    list(LESSONS),
    default="similarity",
    required=True,
    format_func=lambda name: LESSONS[name][0],
    key="lessons_pick",
)
title, show = LESSONS[picked]
st.header(title)
show()
