"""The notebooks run top to bottom on the real models and a fresh embedded store, and are kept
in git without outputs."""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

from kg.config import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


def test_the_notebooks_are_there():
    assert {p.name for p in NOTEBOOKS} >= {"quickstart.ipynb", "walkthrough.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"clear the outputs of {path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_without_errors(path, tmp_path):
    from kg.stores.falkordb.server import FalkorDBServer

    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "KG_DATA_DIR": str(tmp_path / "data")}
    # the venv's own "python3" kernel, started in notebooks/ as Jupyter would
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute(env=env)
    finally:
        FalkorDBServer(tmp_path / "data").stop(force=True)  # whatever the notebook left running
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs and not [o for o in outputs if o.output_type == "error"]
    assert (tmp_path / "data").exists()  # it used the data dir it was given, not one in the repository
    if path.name == "quickstart.ipynb":  # the inline view is there, with vis-network in it
        assert any("new vis.Network" in o.get("data", {}).get("text/html", "") for o in outputs)
