"""What can go wrong while scoring, in the service's own words (no HTTP here).

The scoring layer raises these; the app maps each class to one HTTP status in one handler
(:func:`serving.app.install_error_handlers`), and ``muzhang predict`` prints their message.
"""

from __future__ import annotations

from typing import Any


class ScoringError(Exception):
    """Base class. ``detail`` is a message, or a list of ``{row, field, value, rule}`` problems."""

    def __init__(self, detail: str | list[dict[str, Any]]) -> None:
        super().__init__(detail if isinstance(detail, str) else f"{len(detail)} problem(s)")
        self.detail = detail

    def __str__(self) -> str:
        if isinstance(self.detail, str):
            return self.detail
        return "; ".join(
            ", ".join(f"{k} {v}" for k, v in problem.items() if k != "rule") + f": {problem.get('rule', '')}"
            for problem in self.detail
        )


class NotFound(ScoringError):
    """An id the county does not have (grid area, township, series)."""


class TooMany(ScoringError):
    """More items, rows or bytes than one request may carry."""


class InvalidInput(ScoringError):
    """Input that breaks a rule (type, range, unknown column); ``detail`` says which row, field and rule."""


class Conflict(ScoringError):
    """A request the data's current state does not allow (a month closed out of order, or before any report)."""


class Unavailable(ScoringError):
    """No model can answer now (no champion yet, or the registry cannot be reached)."""
