"""The ``fastwalk`` command line: a lazy Click group.

Subcommands live in :mod:`fastwalk.commands`, one module each, discovered at
start-up; they import only Click, so ``fastwalk --help`` never imports numba.
Errors end with one line on stderr and a status: 2 for usage errors (bad
options or values, missing or foreign files, an existing output), 1 for
runtime failures; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import pkgutil
import signal
import sys
import warnings

import click

from fastwalk._entry import install_handlers, stopped
from fastwalk._version import __version__

EPILOG = (
    "Examples:\n\n"
    "  fastwalk demo --out demo/\n\n"
    "  fastwalk lattice --lines 3 --length 9 --walkers 1000 --steps 10000 --out lines.h5\n\n"
    "  fastwalk stationary lines.h5"
)


class LazyGroup(click.Group):
    """A group whose commands are the modules of :mod:`fastwalk.commands`."""

    def _modules(self) -> list[str]:
        import fastwalk.commands as package

        return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))

    def list_commands(self, ctx):
        """List the command names (module names with dashes)."""
        return [name.replace("_", "-") for name in self._modules()]

    def get_command(self, ctx, name):
        """Import and return the command ``name``, or None."""
        module_name = name.replace("-", "_")
        if module_name not in self._modules():
            return None
        return importlib.import_module(f"fastwalk.commands.{module_name}").command

    def invoke(self, ctx):
        """Run the command; a signal's interrupt passes Click by (it would print a blank line)."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Signalled(exc) from None


class _Signalled(Exception):
    """A KeyboardInterrupt (SIGINT, or SIGTERM as Terminated) carried past Click to :func:`main`."""

    def __init__(self, interrupt: KeyboardInterrupt):
        super().__init__()
        self.interrupt = interrupt


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"],
                                                             "max_content_width": 100})
@click.version_option(__version__, prog_name="fastwalk")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx, debug):
    """Random walks and Brownian motion near singular minimum-loss sets.

    Simulate walkers on intersecting lattices and graphs, Brownian motion under
    min-potentials and on hyperspheres; stream them to H5MD files; fit and check
    the laws the theory predicts.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv=None) -> int:
    """Run the CLI and exit with its status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status (the process exits with it).
    """
    if hasattr(signal, "SIGXFSZ"):
        # a file-size limit must surface as a write error we can report, not kill us
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    install_handlers()
    _tolerant_streams()
    # numbers that overflow are an error to report, never a warning beside a "completed" run
    warnings.filterwarnings("error", category=RuntimeWarning, module=r"(numpy|fastwalk)(\.|$)")
    # and a NUMBA_* setting numba cannot parse is the user's to fix, not a traceback it prints
    warnings.filterwarnings("error", message=NUMBA_UNPARSED, category=RuntimeWarning)
    args = sys.argv[1:] if argv is None else list(argv)
    group_options = args[:next((i for i, a in enumerate(args) if not a.startswith("-")), len(args))]
    debug = "--debug" in group_options
    try:
        if not args:
            click.echo(cli.get_help(click.Context(cli, info_name="fastwalk")))
            sys.exit(0)
        status = _run(args, debug)
    except OSError as exc:
        if not _printing_failed(exc):  # --debug: the traceback of any other
            raise
        status = _stream_failed(exc)
    status = 0 if status is None else int(status)
    sys.exit(status)


def _run(args: list[str], debug: bool) -> int | None:
    """Run the command line ``args``; return its status, every failure reported in one line."""
    from fastwalk.errors import FastwalkError, Interrupted, os_error_status

    try:
        if not {"--help", "-h", "--version"} & set(args):
            problem = numba_environment_problem()
            if problem:
                click.echo(f"Error: {problem}", err=True)
                return 2
        status = cli.main(args=args, prog_name="fastwalk", standalone_mode=False)
    except _Signalled as exc:
        status = stopped(exc.interrupt)
    except click.exceptions.Abort as exc:
        # click turns a KeyboardInterrupt (SIGINT, or SIGTERM through interrupt) into Abort
        status = stopped(exc.__context__)
    except click.UsageError as exc:
        if debug:
            raise
        where = exc.ctx.command_path if exc.ctx is not None else "fastwalk"
        click.echo(f"Error: {exc.format_message()} (see '{where} --help')", err=True)
        status = exc.exit_code
    except click.ClickException as exc:
        if debug:
            raise
        click.echo(f"Error: {exc.format_message()}", err=True)
        status = exc.exit_code
    except Interrupted as exc:
        click.echo(f"Interrupted: {exc}", err=True)
        status = exc.exit_code
    except FastwalkError as exc:
        if debug:
            raise
        click.echo(f"Error: {exc}", err=True)
        status = exc.exit_code
    except RuntimeWarning as exc:
        if debug:
            raise
        click.echo(f"Error: {_warning_text(exc)}", err=True)
        status = 2 if _numba_setting(exc) else 1
    except (FloatingPointError, OverflowError, ZeroDivisionError) as exc:
        if debug:
            raise
        click.echo(f"Error: the numbers overflowed ({exc}); choose values of a more moderate "
                   "magnitude", err=True)
        status = 1
    except (ValueError, TypeError, FileExistsError, FileNotFoundError) as exc:
        if debug:
            raise
        click.echo(f"Error: {exc}", err=True)
        status = 2
    except KeyboardInterrupt as exc:
        status = stopped(exc)
    except MemoryError:
        if debug:
            raise
        click.echo("Error: out of memory; use fewer walkers or a smaller system", err=True)
        status = 1
    except OSError as exc:
        if debug or _printing_failed(exc):
            raise
        where = f"cannot use {exc.filename}: " if exc.filename else ""
        click.echo(f"Error: {where}{exc.strerror or exc}", err=True)
        status = os_error_status(exc)
    return status


#: the most threads NUMBA_NUM_THREADS may ask for (or 64 per core): numba starts them all, and
#: 10^20 never returned
MOST_NUMBA_THREADS = 256

#: the start of numba's warning about a NUMBA_* environment variable it could not parse
NUMBA_UNPARSED = "Environment variable '"


def _numba_setting(exc: Warning) -> tuple[str, str] | None:
    """Return (name, value) of the NUMBA_* variable numba's warning ``exc`` is about, or None."""
    import re

    found = re.match(r"Environment variable '(\w+)' is defined but its associated value '(.*?)' "
                     r"could not be parsed", str(exc))
    return found.groups() if found else None


def _warning_text(exc: Warning) -> str:
    setting = _numba_setting(exc)
    if setting:
        name, value = setting
        return f"{name}={value!r} in the environment is no value numba understands; fix or unset it"
    return (f"the numbers overflowed ({exc}); choose values of a more moderate magnitude")


def numba_environment_problem(environ=None) -> str | None:
    """Return why the NUMBA_* settings in ``environ`` cannot run fastwalk, or None if they can.

    Read before numba is imported (numba reads them once, as it loads): a thread count
    that is no positive integer, and a disabled compiler (fastwalk's kernels are numba
    code; in plain Python their integer arithmetic overflows and a run takes hours).

    Parameters
    ----------
    environ : mapping, optional
        The environment [default: ``os.environ``].

    Returns
    -------
    str or None
        One line naming the variable, its value and the fix.
    """
    import os

    environ = os.environ if environ is None else environ
    threads = environ.get("NUMBA_NUM_THREADS")
    most = max(MOST_NUMBA_THREADS, 64 * (os.cpu_count() or 1))
    if threads is not None and not (threads.strip().isdigit() and 1 <= int(threads) <= most):
        return (f"NUMBA_NUM_THREADS={threads!r} in the environment is no thread count; set it to a "
                f"whole number from 1 to {most} or unset it (--threads N limits one run)")
    disabled = environ.get("NUMBA_DISABLE_JIT")
    if disabled is not None and disabled.strip() not in ("", "0"):
        return (f"NUMBA_DISABLE_JIT={disabled!r} in the environment turns off the numba compiler "
                "that fastwalk's kernels need; unset it (or set it to 0)")
    return None


def _tolerant_streams() -> None:
    """Let the process's stdout print any text: a character its encoding lacks is escaped.

    Under ``PYTHONIOENCODING=latin-1`` (or an ASCII locale) help and reports hold symbols
    such as ⟨ ⟩ and ×; escaped (as ``u27e8`` with a backslash) they cost legibility, not
    the command.
    """
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and stream in (sys.__stdout__, sys.__stderr__):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (AttributeError, ValueError, OSError):  # not a TextIOWrapper, or closed
                pass


def _printing_failed(exc: OSError) -> bool:
    """Whether ``exc`` was raised printing to stdout or stderr (click.echo), not by the command."""
    frames = list(_traceback_frames(exc))
    return bool(frames) and frames[-1].f_code.co_name == "echo" and "click" in frames[-1].f_code.co_filename


def _traceback_frames(exc: BaseException):
    tb = exc.__traceback__
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


def _stream_failed(exc: OSError) -> int:
    """Report that printing failed (stdout full, closed or gone); return status 1.

    The message goes to stderr (stdout cannot take it); stdout is pointed at the null
    device so that Python's final flush of what stayed buffered fails no more.
    """
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())
    except (OSError, AttributeError, ValueError):
        pass
    try:
        sys.stderr.write(f"Error: cannot print the output ({exc.strerror or exc})\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return 1


if __name__ == "__main__":  # pragma: no cover
    main()
