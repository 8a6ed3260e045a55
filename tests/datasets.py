"""Where the shared datasets are, and the one marker for tests that read them.

CI has `../shared` beside the clone; a bare clone does not, and there these tests skip with the
same reason instead of failing."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.config import get_settings

DATA = Path(get_settings().datasets_dir)
needs_datasets = pytest.mark.skipif(not (DATA / "conll04").exists(),
                                    reason=f"shared datasets not present ({DATA})")
