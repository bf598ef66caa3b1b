"""Exceptions a researcher or plugin author may see. Each message says what to change."""

from __future__ import annotations


class MugError(Exception):
    """Base class of every MUG error."""


class ConfigError(MugError):
    """A study's configuration is wrong. ``problems`` lists every issue found."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"the study has {len(self.problems)} problems:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(message)


class PluginLoadError(MugError):
    """A plugin failed to import, or its hooks do not match the contract."""


class DuplicateRegistrationError(MugError):
    """Two plugins registered the same name in the same registry."""


class UnknownNameError(MugError, LookupError):
    """A name was looked up in a registry that has no such entry."""
