"""Recalibrating a relation model (extractors/training/calibration.py, `kg train calibration`)."""

from __future__ import annotations

import json

from extractors.relations.marker import MarkerRelationExtractor
from kg.cli import main
from tests.datasets import needs_datasets


def _one_line_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("kg: error:") and "Traceback" not in err[0]
    return err[0]


@needs_datasets
def test_cli_calibration_refits_for_a_precision(tmp_path, capsys):
    import shutil

    from extractors.encoder.base import WEIGHTS_DIR

    model = tmp_path / "rel"
    shutil.copytree(WEIGHTS_DIR / "relations-conll04", model)
    rc = main(["train", "calibration", "--model", str(model), "--dev", "conll04:dev", "--precision", "fp32"])
    out = capsys.readouterr().out
    assert rc == 0 and "fp32" in out and "dev P" in out
    cfg = json.loads((model / "config.json").read_text())
    assert cfg["precision"] == "fp32" and 0 < cfg["threshold"] < 1 and cfg["temperature"] > 0
    assert "kg train calibration" in (model / "MODEL_CARD.md").read_text()
    assert MarkerRelationExtractor.load(model).precision == "fp32"
    msg = _one_line_error(capsys, ["train", "calibration", "--model", str(tmp_path / "none"), "--dev", "conll04:dev"])
    assert "no relation model" in msg
