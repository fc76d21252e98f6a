"""The notebooks run from top to bottom."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("quickstart.ipynb", ("estimated precision", "best threshold in hindsight")),
        ("privacy.ipynb", ("pattern", "anchor", "worst 5%")),
        ("national_evaluation.ipynb", ("pairwise quality of the clusters", "attached", "suppressed")),
    ],
)
def test_notebook_executes(tmp_path, name, expected):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    for fragment in expected:
        assert fragment in text, fragment
