"""Hosted mode settings: parsing the environment and choosing which saved projects to list."""

from __future__ import annotations

import pytest

from lib.errors import ParameterError
from lib.share.hosting import HostedConfig, ProjectListing, hosted_config, listed_projects
from lib.share.projects import ProjectSummary

FIRST, SECOND, THIRD = "A" * 24, "b-" * 12, "c_" * 10


def summary(project_id: str, title: str) -> ProjectSummary:
    return ProjectSummary(project_id, title, "2026-11-25T10:00:00+00:00", 10, "all-MiniLM-L6-v2")


STORE = [summary(FIRST, "first"), summary(SECOND, "second"), summary(THIRD, "third")]


@pytest.mark.parametrize("value", ["1", "true", "yes", " TRUE ", "Yes"])
def test_hosted_values_turn_it_on(value):
    assert hosted_config({"EMBEDSCOPE_HOSTED": value}) == HostedConfig(hosted=True)


@pytest.mark.parametrize("value", ["0", "false", "no", "", "  ", "NO"])
def test_off_values_and_unset_leave_it_off(value):
    assert hosted_config({"EMBEDSCOPE_HOSTED": value}) == HostedConfig(hosted=False)
    assert hosted_config({}) == HostedConfig(hosted=False, project_ids=None)


@pytest.mark.parametrize("value", ["2", "on", "hosted", "1,2"])
def test_other_hosted_values_are_refused_naming_the_accepted_ones(value):
    message = (
        r"The 'EMBEDSCOPE_HOSTED' parameter of the server environment must be one of "
        r"'1', 'true', 'yes' \(on\) or '0', 'false', 'no', '' \(off\)\. Got '"
    )
    with pytest.raises(ParameterError, match=message + value):
        hosted_config({"EMBEDSCOPE_HOSTED": value})


def test_project_list_keeps_order_and_drops_blanks_and_repeats():
    config = hosted_config(
        {"EMBEDSCOPE_HOSTED": "1", "EMBEDSCOPE_PROJECTS": f" {THIRD}, ,{FIRST},{THIRD},"}
    )
    assert config == HostedConfig(hosted=True, project_ids=(THIRD, FIRST))
    assert config.allows(FIRST) and config.allows(THIRD)
    assert not config.allows(SECOND)


def test_an_empty_project_list_means_every_project():
    config = hosted_config({"EMBEDSCOPE_HOSTED": "yes", "EMBEDSCOPE_PROJECTS": " , "})
    assert config.project_ids is None
    assert config.allows(SECOND)


@pytest.mark.parametrize("bad_id", ["../etc/passwd", "short", "a" * 65, "abcdefghijklmnop.json"])
def test_malformed_project_ids_are_refused(bad_id):
    with pytest.raises(ParameterError, match=r"The 'EMBEDSCOPE_PROJECTS' parameter .* Got '"):
        hosted_config({"EMBEDSCOPE_HOSTED": "1", "EMBEDSCOPE_PROJECTS": f"{FIRST},{bad_id}"})


def test_a_project_list_without_hosted_mode_is_refused():
    with pytest.raises(ParameterError, match=r"hosted mode is off; set EMBEDSCOPE_HOSTED=1"):
        hosted_config({"EMBEDSCOPE_PROJECTS": FIRST})


def test_without_a_list_every_project_is_listed_in_store_order():
    for config in (HostedConfig(), HostedConfig(hosted=True)):
        assert listed_projects(STORE, config) == ProjectListing(tuple(STORE))


def test_a_list_picks_those_projects_in_its_order_and_reports_missing_ids():
    unknown = "Z" * 30
    config = HostedConfig(hosted=True, project_ids=(THIRD, unknown, FIRST))
    listing = listed_projects(STORE, config)
    assert [p.title for p in listing.projects] == ["third", "first"]
    assert listing.missing == (unknown,)


def test_an_empty_store_lists_nothing():
    assert listed_projects([], HostedConfig(hosted=True)) == ProjectListing(())
    listing = listed_projects([], HostedConfig(hosted=True, project_ids=(FIRST,)))
    assert listing == ProjectListing((), (FIRST,))
