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
    from fastwalk.errors import FastwalkError, Interrupted

    if hasattr(signal, "SIGXFSZ"):
        # a file-size limit must surface as a write error we can report, not kill us
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    install_handlers()
    # numbers that overflow are an error to report, never a warning beside a "completed" run
    warnings.filterwarnings("error", category=RuntimeWarning, module=r"(numpy|fastwalk)(\.|$)")
    args = sys.argv[1:] if argv is None else list(argv)
    group_options = args[:next((i for i, a in enumerate(args) if not a.startswith("-")), len(args))]
    debug = "--debug" in group_options
    if not args:
        click.echo(cli.get_help(click.Context(cli, info_name="fastwalk")))
        sys.exit(0)
    try:
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
    except (RuntimeWarning, FloatingPointError, OverflowError, ZeroDivisionError) as exc:
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
    status = 0 if status is None else int(status)
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    main()
