"""Exception types of embedscope: every message is written for the person using the app."""

from __future__ import annotations

from collections.abc import Iterable


class EmbedscopeError(Exception):
    """Base of every error embedscope raises on purpose; its message is shown to the user as is."""


class CorpusError(EmbedscopeError):
    """A corpus could not be read or is unusable (format, encoding, columns, size)."""


class ModelError(EmbedscopeError):
    """An embedding model could not be loaded or used."""


class StoreError(EmbedscopeError):
    """The on-disk store (embedding cache, projects) could not be read or written."""


class ParameterError(EmbedscopeError, ValueError):
    """A parameter is outside its accepted values."""


class QueryError(EmbedscopeError):
    """An expression or query is malformed or names something that does not exist.

    `suggestions`: for each unknown word, close spellings that exist (best first), so a page can
    offer them as buttons.
    """

    def __init__(
        self,
        message: str,
        position: int | None = None,
        suggestions: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.position = position
        self.suggestions = dict(suggestions or {})


class VectorsError(EmbedscopeError):
    """Uploaded vectors are malformed (shape, NaN/inf, row counts)."""


def invalid_parameter(owner: str, name: str, accepted: str, got: object) -> ParameterError:
    """Build the one message shape for a bad parameter (scikit-learn's wording)."""
    return ParameterError(
        f"The '{name}' parameter of {owner} must be {accepted}. Got {got!r} instead."
    )


def check_int(owner: str, name: str, value: object, low: int, high: int | None = None) -> int:
    """Return `value` if it is an int in [low, high], else raise the standard ParameterError."""
    upper = "inf)" if high is None else f"{high}]"
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise invalid_parameter(owner, name, f"an int in the range [{low}, {upper}", value)
    if high is not None and value > high:
        raise invalid_parameter(owner, name, f"an int in the range [{low}, {upper}", value)
    return value


def check_float(owner: str, name: str, value: object, low: float, high: float) -> float:
    """Return `value` as float if it is a real number in [low, high], else raise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise invalid_parameter(owner, name, f"a float in the range [{low}, {high}]", value)
    return float(value)


def check_choice(owner: str, name: str, value: object, choices: Iterable[str]) -> str:
    """Return `value` if it is one of `choices`, else raise naming the accepted values."""
    options = tuple(choices)
    if value not in options:
        accepted = "one of " + ", ".join(repr(c) for c in options)
        raise invalid_parameter(owner, name, accepted, value)
    return str(value)
