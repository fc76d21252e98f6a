"""The layout as a contract: who may import whom, what `import linkage` costs, the public API.

The provider (raw identifiers, the key) and the linkage unit (encodings only) never import
each other; both build on the contract (format, schema). The contracts live in
pyproject.toml ([tool.importlinter]) and are checked here with import-linter, which is also
shown to fail on a tree that breaks them.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

import linkage

ROOT = Path(__file__).parent.parent
LINT = Path(sys.executable).with_name("lint-imports")
HEAVY = ("numpy", "polars", "pyarrow", "numba", "tqdm", "matplotlib", "tomli_w")


def lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_import_contracts_are_kept():
    r = lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "provider and linker never import each other KEPT" in r.stdout
    assert "no import cycles between sibling modules KEPT" in r.stdout


@pytest.mark.parametrize(
    "module, line, broken",
    [
        ("provider/extract.py", "from ..linker import score", "provider and linker never import each other"),
        ("linker/solve.py", "from ..provider import keys", "provider and linker never import each other"),
        ("format/links.py", "from ..linker import solve", "layers"),
        ("provider/extract.py", "from . import encode", "no import cycles"),
    ],
)
def test_the_contracts_fail_on_a_tree_that_breaks_them(tmp_path, module, line, broken):
    shutil.copytree(ROOT / "linkage", tmp_path / "linkage", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with open(tmp_path / "linkage" / module, "a") as fh:
        fh.write(f"\n{line}  # noqa\n")
    r = lint(tmp_path)
    assert r.returncode != 0
    assert any(broken in ln and "BROKEN" in ln for ln in r.stdout.splitlines()), r.stdout


def test_no_module_imports_a_package_that_contains_it():
    graph = grimp.build_graph("linkage", cache_dir=None)
    upward = []
    for module in graph.modules:
        parts = module.split(".")
        ancestors = {".".join(parts[:i]) for i in range(1, len(parts))}
        upward += [(module, t) for t in graph.find_modules_directly_imported_by(module) if t in ancestors]
    assert not upward


def test_the_tree_shows_who_runs_the_code():
    for sub in ("provider", "linker", "format", "schema", "research", "cli"):
        assert (ROOT / "linkage" / sub / "__init__.py").exists()
    flat = sorted(p.name for p in (ROOT / "linkage").glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "_version.py", "compiled.py", "defaults.py", "errors.py",
                    "progress.py"]


def imported_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint('loaded:', *(m for m in {HEAVY!r} if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()[-1].split()[1:]


def test_help_and_import_load_nothing_heavy():
    help_run = "from linkage.cli import cli\ntry:\n    cli(['--help'])\nexcept SystemExit:\n    pass"
    assert imported_after(help_run) == []
    assert imported_after("import linkage") == []
    assert imported_after("import linkage\nlinkage.Schema") == ["polars"]  # loads on first use


def test_public_api_is_small_and_each_name_resolves():
    names = [n for n in linkage.__all__ if n != "__version__"]
    assert 10 <= len(names) <= 16
    assert set(names) == set(linkage._API)
    for n in names:
        assert getattr(linkage, n) is not None
    with pytest.raises(AttributeError):
        linkage.no_such_name  # noqa: B018


def test_cli_defaults_are_the_librarys():
    import inspect

    from linkage.cli import cli
    from linkage.linker.link import link
    from linkage.provider.extract import read_extract
    from linkage.research.synth import synth_families

    def default(command, name):
        return next(p.default for p in cli.commands[command].params if p.name == name)

    def param(fn, name):
        return inspect.signature(fn).parameters[name].default

    for name in ("review_width", "top_k", "kernel"):
        assert default("link", name) == param(link, name), name
    assert default("encode", "encoding") == param(read_extract, "encoding")
    assert default("encode", "delimiter") == param(read_extract, "delimiter")
    assert default("synth", "records") == param(synth_families, "records") == default("demo", "records")
    assert default("synth", "seed") == param(synth_families, "seed") == default("demo", "seed")
