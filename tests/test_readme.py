"""The README stays true: its command reference, its layout and its Python example match the code."""

import os
import re
from pathlib import Path

import click

from linkage.cli import cli

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def block_after(heading: str) -> str:
    start = README.index(heading)
    m = re.search(r"```[a-z]*\n(.*?)```", README[start:], re.S)
    return m.group(1)


def readme_commands() -> dict[str, set[str]]:
    """Each `linkage COMMAND` of the reference block and the options written with it."""
    commands: dict[str, set[str]] = {}
    current = None
    for line in block_after("## The command line").splitlines():
        if line.startswith("linkage "):
            current = line.split()[1]
            commands[current] = set()
        elif not line.startswith(" "):
            current = None
        if current:
            commands[current] |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", line))
    return commands


def test_command_reference_matches_the_commands():
    documented = readme_commands()
    assert set(documented) == set(cli.commands)
    for name, command in cli.commands.items():
        options = {o for p in command.params if isinstance(p, click.Option) for o in p.opts if o.startswith("--")}
        assert documented[name] == options, name


def test_layout_names_every_subpackage():
    layout = block_after("## Layout")
    named = set(re.findall(r"^  ([a-z_]+)/", layout, re.M))
    actual = {p.parent.name for p in (ROOT / "linkage").glob("*/__init__.py")}
    assert named == actual
    for module in re.findall(r"^  ([a-z_]+\.py)", layout, re.M):
        assert (ROOT / "linkage" / module).exists(), module


def test_python_example_runs(tmp_path, capsys):
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    code = code.replace("synth_families(10_000", "synth_families(1_000")  # the same path, smaller
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert (tmp_path / "a.enc.parquet").exists()
    out = capsys.readouterr().out.splitlines()
    threshold, precision, recall = map(float, out[0].split())
    assert 0 < threshold <= 1 and 0 <= precision <= 1 and 0 <= recall <= 1
    assert any(line.split()[:1] == ["precision"] for line in out[1:])  # the evaluation prints its table
