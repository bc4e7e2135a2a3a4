"""Write the command-line reference from the Click commands themselves, at every build.

:func:`write_cli_reference` walks the ``fastwalk`` group (every command, its usage line,
help, each option with its type, range and default as ``--help`` prints them, and the
examples of its epilog) and writes reStructuredText that ``docs/cli.md`` includes, so the
page cannot drift from the code. Options become ``.. option::`` targets, which
``{option}`` roles can link to.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import click

_SPECIAL = re.compile(r"([\\`*_|])")


def _escape(text: str) -> str:
    """Plain text for reST: the characters that start markup, backslash-escaped."""
    return _SPECIAL.sub(r"\\\1", text)


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", text.replace("\b\n", "").replace("\b", "")) if p.strip()]


def _body(text: str, indent: str = "") -> list[str]:
    """Click help/epilog text: indented paragraphs (examples) as code, the rest as prose."""
    lines = []
    for paragraph in _paragraphs(text):
        if paragraph.startswith("  "):
            code = "\n".join(line.strip() for line in paragraph.splitlines())
            lines += [f"{indent}.. code-block:: bash", ""]
            lines += [f"{indent}   {line}" for line in code.splitlines()] + [""]
        else:
            lines += [indent + _escape(" ".join(paragraph.split())), ""]
    return lines


def _command(name: str, command: click.Command, parent: click.Context) -> list[str]:
    ctx = click.Context(command, info_name=name, parent=parent, **command.context_settings)
    title = f"fastwalk {name}"
    lines = [f".. _cli-{name}:", "", title, "-" * len(title), ""]
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines += ["::", "", f"   {ctx.command_path} {usage}", ""]
    lines += _body(inspect.cleandoc(command.help or ""))
    lines += [f".. program:: {ctx.command_path}", ""]
    for param in command.get_params(ctx):
        if isinstance(param, click.Argument):
            lines += [f".. option:: {param.make_metavar(ctx)}", "", "   (argument)", ""]
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        lines += [f".. option:: {names}", ""]
        lines += _body(help_text or "(no description)", "   ")
    if command.epilog:
        lines += _body(command.epilog)
    return lines


def cli_reference() -> str:
    """Return the whole reference as reStructuredText."""
    from fastwalk.cli import cli

    top = click.Context(cli, info_name="fastwalk", **cli.context_settings)
    lines = ["Every command, with every option exactly as ``--help`` states it (type, range, "
             "default).", ""]
    lines += ["fastwalk", "-" * 8, "", "::", "", "   fastwalk [OPTIONS] COMMAND [ARGS]...", ""]
    lines += _body(inspect.cleandoc(cli.help or ""))
    lines += [".. program:: fastwalk", ""]
    for param in cli.get_params(top):
        record = param.get_help_record(top)
        if record is not None:
            lines += [f".. option:: {record[0]}", ""] + _body(record[1], "   ")
    lines += _body(cli.epilog or "")
    for name in cli.list_commands(top):
        lines += _command(name, cli.get_command(top, name), top)
    return "\n".join(lines) + "\n"


def write_cli_reference(app) -> None:
    """Sphinx hook: write ``_generated/cli.rst`` when it changed (builder-inited)."""
    target = Path(app.srcdir) / "_generated" / "cli.rst"
    target.parent.mkdir(exist_ok=True)
    text = cli_reference()
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


def setup(app):
    """Register the hook."""
    app.connect("builder-inited", write_cli_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
