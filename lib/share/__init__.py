"""Stage 4: saved projects, lesson bookmarks, hosted mode and exports."""
