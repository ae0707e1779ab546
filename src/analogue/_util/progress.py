"""Progress bars for long work: one policy for the whole library.

``progress=None`` (the default of every long-running verb) shows a bar only when standard error
is a terminal, so logs, CI and notebooks piping output stay clean; ``True`` forces it and
``False`` (the CLI's ``--no-progress``) hides it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

Progress = bool | None
"""``None``: a bar when standard error is a terminal; ``True``/``False``: always / never."""


def progress_enabled(progress: Progress) -> bool:
    """Whether to draw a bar under the ``progress`` policy."""
    if progress is None:
        stream = sys.stderr
        return bool(getattr(stream, "isatty", lambda: False)())
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None (auto), got {type(progress).__name__}")
    return progress


def track(items: Iterable[T], desc: str, progress: Progress = None, total: int | None = None,
          unit: str = "it") -> Iterator[T]:
    """``items`` with a tqdm bar under the ``progress`` policy (no bar: the items as they are)."""
    if not progress_enabled(progress):
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc, total=total, unit=unit, leave=False)


def bar(total: int, desc: str, progress: Progress = None, unit: str = "it"):
    """A tqdm bar of ``total`` steps under the ``progress`` policy (a silent one when off), for
    work that is not one loop; use it as a context manager and call ``update()`` per step."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, disable=not progress_enabled(progress))


def progress_arg(args: object) -> Progress:
    """The policy of a command's ``--no-progress`` flag: ``False``; otherwise ``None`` (a bar
    when standard error is a terminal)."""
    return False if getattr(args, "no_progress", False) else None
