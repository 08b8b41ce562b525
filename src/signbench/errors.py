"""The two errors a user sees as one line (exit status 2), never as a traceback.

- :class:`DataError`: bad input. The message names the file and the row / key / archive member.
- :class:`UserError`: anything else the user can fix (a missing run folder, a bad option value).

Library modules raise them; only the CLI layer (``signbench.cli``) turns them into a message.
"""

from __future__ import annotations

__all__ = ["DataError", "UserError"]


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


class DataError(ValueError):
    """Bad input. The message names the file and the row / key / archive member."""

    def __init__(self, message: str, *, path: str | None = None, where: str | None = None):
        self.path = path
        self.where = where
        prefix = ""
        if path is not None:
            prefix = f"{path}"
            if where is not None:
                prefix += f" [{where}]"
            prefix += ": "
        super().__init__(prefix + message)
