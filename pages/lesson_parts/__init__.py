"""The Lessons page's parts: one module per lesson (each with a `show()`), the shared pieces
(common), bookmark authoring (bookmarks), saved steps (steps) and the lesson-link player."""
