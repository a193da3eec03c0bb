"""User-facing errors: the CLI prints their message on one line and exits non-zero, with no traceback."""

from __future__ import annotations


class SkyevalError(Exception):
    """A problem with the user's input or environment (bad file, unknown task, server down, missing extra)."""


class MissingExtraError(SkyevalError):
    """An optional dependency is not installed; the message carries the exact ``pip install`` hint."""

    def __init__(self, what: str, module: str, extra: str) -> None:
        super().__init__(f"{what} needs the '{module}' package: pip install 'skyeval[{extra}]'")


def require(module: str, *, extra: str, what: str) -> None:
    """Fail with an install hint when ``module`` cannot be imported (checked at use time, never at import)."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(what, module, extra)
