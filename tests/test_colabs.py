"""Every notebook in colabs/ runs top to bottom on CPU and shows at least one plot."""

import os
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

COLABS = sorted((pathlib.Path(__file__).resolve().parents[1] / "colabs").glob("*.ipynb"))


def test_there_are_colabs():
    assert COLABS


@pytest.mark.parametrize("path", COLABS, ids=[p.stem for p in COLABS])
def test_notebook_executes(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    env_flags = os.environ.get("XLA_FLAGS")  # the kernel inherits the test environment
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for cell in notebook.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, (env_flags, errors)
    images = [o for cell in notebook.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, f"{path.name} shows no plot"
