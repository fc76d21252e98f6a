"""What every command shares: common options, the key, and naming replaced files.

Only click and the defaults are imported here: ``linkage --help`` loads nothing heavy.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import click

quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")


def force_option(what: str):
    """``--force``, saying exactly which outputs it may replace."""
    return click.option("--force", is_flag=True, help=f"Replace existing outputs: {what}. Never an input.")


def file_path(**kwargs) -> click.Path:
    return click.Path(dir_okay=False, path_type=Path, **kwargs)


def unit_interval(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise click.BadParameter("must be between 0 and 1")
    return value


def load_key(key_file: Path | None, key_env: str | None) -> bytes:
    """The key from a file or an environment variable (never from an argument)."""
    from ..errors import KeyFileError
    from ..provider.keys import key_from_env, read_key

    if key_file and key_env:
        raise KeyFileError("give either --key-file or --key-env, not both")
    if key_env:
        return key_from_env(key_env)
    if key_file:
        return read_key(key_file)
    raise KeyFileError("no key given: pass --key-file KEYFILE (or --key-env VAR, or set LINKAGE_KEY_FILE)")


def echo_replaced(paths: Iterable[Path]) -> None:
    """Name every existing file that --force replaced."""
    paths = list(paths)
    if paths:
        click.echo("replaced (--force): " + ", ".join(map(str, paths)))
