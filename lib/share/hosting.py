"""Hosted mode: serve a fixed set of precomputed projects with uploads switched off.

Two environment variables, read by `hosted_config`:

    EMBEDSCOPE_HOSTED    "1", "true" or "yes" turns hosted mode on; "0", "false", "no", empty
                         or unset leaves it off (case and surrounding spaces are ignored).
    EMBEDSCOPE_PROJECTS  comma-separated project ids the app lists, in that order (hosted mode
                         only); unset or empty lists every project in the store.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lib.errors import ParameterError, invalid_parameter
from lib.share.projects import ProjectSummary, is_valid_project_id

HOSTED_ENV = "EMBEDSCOPE_HOSTED"
PROJECTS_ENV = "EMBEDSCOPE_PROJECTS"
ON_VALUES = ("1", "true", "yes")
OFF_VALUES = ("0", "false", "no", "")


@dataclass(frozen=True)
class HostedConfig:
    """How this server is hosted.

    hosted: uploads, pasted text, other models and saving are off; visitors open the listed
    projects or a bundled sample. project_ids: the projects listed, in order (None: every
    project in the store); only allowed with hosted on.
    """

    hosted: bool = False
    project_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.project_ids is None:
            return
        if not self.hosted:
            raise ParameterError(
                f"{PROJECTS_ENV} fixes the project list of a hosted server, but hosted mode is "
                f"off; set {HOSTED_ENV}=1 as well, or unset {PROJECTS_ENV}."
            )
        for project_id in self.project_ids:
            if not is_valid_project_id(project_id):
                raise invalid_parameter(
                    "the server environment",
                    PROJECTS_ENV,
                    "comma-separated project ids (16 to 64 letters, digits, '-' or '_')",
                    project_id,
                )

    def allows(self, project_id: str) -> bool:
        """Whether visitors may open `project_id` (a hosted server with a list opens only those)."""
        return self.project_ids is None or project_id in self.project_ids


@dataclass(frozen=True)
class ProjectListing:
    """The projects a server lists, and configured ids that its store does not have."""

    projects: tuple[ProjectSummary, ...]
    missing: tuple[str, ...] = ()


def hosted_config(environ: Mapping[str, str] = os.environ) -> HostedConfig:
    """The hosted-mode settings in `environ` (EMBEDSCOPE_HOSTED, EMBEDSCOPE_PROJECTS), checked."""
    switch = environ.get(HOSTED_ENV, "").strip().lower()
    if switch not in ON_VALUES + OFF_VALUES:
        accepted = (
            f"one of {', '.join(map(repr, ON_VALUES))} (on) or "
            f"{', '.join(map(repr, OFF_VALUES))} (off)"
        )
        raise invalid_parameter("the server environment", HOSTED_ENV, accepted, environ[HOSTED_ENV])
    ids = [part.strip() for part in environ.get(PROJECTS_ENV, "").split(",")]
    ids = [project_id for project_id in ids if project_id]
    return HostedConfig(
        hosted=switch in ON_VALUES, project_ids=tuple(dict.fromkeys(ids)) if ids else None
    )


def listed_projects(summaries: Iterable[ProjectSummary], config: HostedConfig) -> ProjectListing:
    """The saved projects to list: all of them, or the configured ones in configured order.

    A configured id that the store lacks is reported in `missing` (for a warning), not raised:
    the other projects stay available.
    """
    summaries = tuple(summaries)
    if config.project_ids is None:
        return ProjectListing(summaries)
    by_id = {summary.id: summary for summary in summaries}
    return ProjectListing(
        projects=tuple(by_id[i] for i in config.project_ids if i in by_id),
        missing=tuple(i for i in config.project_ids if i not in by_id),
    )
