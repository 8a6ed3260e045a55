"""One error hierarchy. Every error a user can cause or fix is a KGError whose message is one
clear line; the CLI prints it (exit 2) and the API maps it to a status code. Anything else
that escapes is a bug."""

from __future__ import annotations


class KGError(Exception):
    """A problem worth one clear line to the user, not a stack trace."""


class UsageError(KGError):
    """A command or request that cannot mean anything (a bad option value, a malformed parameter)."""


class ModelLoadError(KGError):
    """A model could not be found or loaded."""


class DatasetError(KGError, ValueError):
    """Training or evaluation data that cannot be used: a missing file or split, a malformed line,
    a type the schema lacks."""


class TrainingError(KGError, ValueError):
    """Training cannot start: no examples, no entities or relations to learn, a bad setting."""


class SchemaError(KGError, ValueError):
    """A graph schema file that cannot be used."""


class StoreError(KGError):
    """A store problem: bad data refused, a failed query, a store that cannot start."""


class StoreUnavailable(StoreError):
    """The store is down or (re)starting; retrying later may work (HTTP 503)."""


class ReadOnlyViolation(StoreError):
    """A write was attempted through a read-only query."""


class QueryRefused(StoreError):
    """A read-only query was refused before it ran (LOAD CSV, too long, too deeply nested)."""


class QueryLimitExceeded(StoreError):
    """A read-only query ran into its time or memory limit."""


class DatasetError(KGError, ValueError):
    """A dataset that cannot be read or does not fit the task."""
