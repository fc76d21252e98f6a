"""The ``linkage`` command: parse arguments, call the core, print.

Commands are grouped by who runs them (:mod:`.provider`, :mod:`.linker`, :mod:`.research`).
Exit 0 on success, 1 on a user error (one line on stderr, no traceback), 2 on bad usage,
3 on an internal error (a bug: only its type is shown), 130 when interrupted.
Only click is imported up front; each command imports what it needs when it runs.
"""

from __future__ import annotations

import os

import click

from .._version import __version__
from ..errors import LinkageError
from . import linker, provider, research

__all__ = ["cli", "main"]

_DEBUG_ENV = "LINKAGE_DEBUG"

SECTIONS = (
    ("At a data provider (raw identifiers and the key)", (provider.keygen, provider.schema, provider.encode)),
    ("At a provider or the linkage unit", (provider.inspect,)),
    ("At the linkage unit (encodings only)", (linker.link,)),
    ("For researchers", (research.evaluate, research.synth, research.demo)),
)


class _Group(click.Group):
    """Turns a LinkageError into one stderr line and exit 1; hides other tracebacks; lists commands by role."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except LinkageError as e:
            click.echo(f"linkage: error: {e}", err=True)
            ctx.exit(1)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("linkage: interrupted; no output was written", err=True)
            ctx.exit(130)
        except Exception as e:  # a bug: its message may quote data, so show only its type
            if os.environ.get(_DEBUG_ENV):
                raise
            click.echo(
                f"linkage: internal error ({type(e).__name__}); please report it. "
                f"Set {_DEBUG_ENV}=1 to see details (they may show data values).",
                err=True,
            )
            ctx.exit(3)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        longest = max(len(name) for name in self.commands)
        for title, commands in SECTIONS:
            rows = [(c.name.ljust(longest), c.get_short_help_str(formatter.width - 6 - longest)) for c in commands]
            with formatter.section(title):
                formatter.write_dl(rows)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="linkage")
def cli() -> None:
    """Privacy-preserving record linkage with keyed Bloom filters.

    Providers run keygen (once, shared securely) and encode; the linkage unit runs link;
    researchers run evaluate. Try `linkage demo`.
    """


for _, _commands in SECTIONS:
    for _command in _commands:
        cli.add_command(_command)


def main() -> None:
    cli(prog_name="linkage")


if __name__ == "__main__":  # pragma: no cover
    main()
