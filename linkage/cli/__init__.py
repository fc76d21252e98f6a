"""The ``linkage`` command: parse arguments, call the core, print.

Commands are grouped by who runs them (:mod:`.provider`, :mod:`.linker`, :mod:`.privacy`, :mod:`.research`).
Exit status (also in the README): 0 success; 1 a user error (one line on stderr, no
traceback); 2 bad usage; 3 an internal error (a bug: only its type is shown); 130 interrupted
(Ctrl-C), 143 terminated (SIGTERM), with temporary files removed; 141 when the reader of the
output went away (``linkage ... | head``). No message repeats a value shaped like a key.
Only click is imported up front; each command imports what it needs when it runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

import click

from .._version import __version__
from ..errors import LinkageError, redact
from . import linker, privacy, provider, research

__all__ = ["cli", "main"]

_DEBUG_ENV = "LINKAGE_DEBUG"
EXIT_OK, EXIT_USER, EXIT_USAGE, EXIT_BUG, EXIT_PIPE = 0, 1, 2, 3, 141


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: unwinds like Ctrl-C, so temporary files are removed on the way out."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def install_signal_handlers() -> None:
    """SIGTERM (and SIGINT) unwind the command, removing temporary files, then exit 128 + signal."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)

SECTIONS = (
    ("At a data provider (raw identifiers and the key)", (provider.keygen, provider.schema, provider.encode,
                                                          provider.attach)),
    ("At a provider or the linkage unit", (provider.inspect,)),
    ("Before data moves (the plaintext and the encodings, to measure exposure)", (privacy.audit,)),
    ("At the linkage unit (encodings only)", (linker.link, linker.release)),
    ("For researchers", (research.evaluate, research.synth, research.calibrate, research.demo)),
)


class _Group(click.Group):
    """Turns a LinkageError into one stderr line and exit 1; hides other tracebacks; lists commands by role."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except LinkageError as e:
            click.echo(f"linkage: error: {redact(e)}", err=True)
            ctx.exit(EXIT_USER)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as other command-line tools do.
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(EXIT_PIPE)
        except KeyboardInterrupt as e:
            signum = getattr(e, "signum", signal.SIGINT)
            what = "terminated" if signum == signal.SIGTERM else "interrupted"
            click.echo(f"linkage: {what}; temporary files were removed and no output was left half-written",
                       err=True)
            ctx.exit(128 + int(signum))
        except Exception as e:  # a bug: its message may quote data, so show only its type
            if os.environ.get(_DEBUG_ENV):
                raise
            click.echo(
                f"linkage: internal error ({type(e).__name__}); please report it. "
                f"Set {_DEBUG_ENV}=1 to see details (they may show data values).",
                err=True,
            )
            ctx.exit(EXIT_BUG)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        """Run, then exit with the documented status; usage errors never repeat a key-shaped value."""
        try:
            code = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False,
                                **extra)
        except click.exceptions.ClickException as e:
            e.message = redact(e.message)
            e.show()
            code = e.exit_code
        except click.exceptions.Abort:
            click.echo("linkage: aborted", err=True)
            code = EXIT_USER
        sys.exit(code if isinstance(code, int) else EXIT_OK)

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
    install_signal_handlers()
    cli(prog_name="linkage")


if __name__ == "__main__":  # pragma: no cover
    main()
