"""Ctrl-C while the command line is still starting: exit 130 quietly, no traceback.

Importing bubbleup's dependencies (polars, pyarrow, scipy) takes a second or two; a
``KeyboardInterrupt`` raised in that time would escape before the CLI's own handling (Typer
turns it into exit code 130) exists. When, and only when, this process is the ``bubbleup``
command, :func:`guard_startup` makes SIGINT end the process at once with code 130 until
:func:`bubbleup.interfaces.cli.main` restores the default handler. Nothing can be half-written then:
outputs are written after the analysis. Imported as a library, bubbleup leaves signals alone.
"""

# Only modules the interpreter has loaded before any user code: the point is to be early.
import itertools
import os
import signal
import sys

#: Exit code of a process ended by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def is_cli() -> bool:
    """Whether this process runs the ``bubbleup`` command (console script or ``-m``)."""
    argv = getattr(sys, "orig_argv", sys.argv)
    as_module = any(a == "-m" and b == "bubbleup" for a, b in itertools.pairwise(argv))
    return as_module or os.path.basename(sys.argv[0]) == "bubbleup"


def _quit(_signum: int, _frame: object) -> None:
    os._exit(INTERRUPTED)


def guard_startup() -> None:
    """Exit 130 on SIGINT while the CLI is importing, if this process is the CLI."""
    in_main_thread = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if in_main_thread and is_cli():
        signal.signal(signal.SIGINT, _quit)


def end_startup() -> None:
    """Give SIGINT back to Python (``KeyboardInterrupt``) once the CLI can handle it, and
    keep a Ctrl-C that lands in a finalizer quiet (:func:`quiet_unraisable_interrupt`)."""
    if signal.getsignal(signal.SIGINT) is _quit:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.unraisablehook = quiet_unraisable_interrupt


def quiet_unraisable_interrupt(unraisable: "sys.UnraisableHookArgs") -> None:
    """The CLI's ``sys.unraisablehook``: a ``KeyboardInterrupt`` raised where Python cannot
    pass it on (a generator that holds an open file, closed as the command unwinds from
    Ctrl-C) is the user's Ctrl-C, which already ends the command with 130: it is not
    printed. Anything else goes to Python's own hook ("Exception ignored in: ...")."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        return
    sys.__unraisablehook__(unraisable)


guard_startup()
