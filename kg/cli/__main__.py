"""`python -m kg.cli`."""

import sys

from kg.cli import main

if __name__ == "__main__":  # not when a spawned worker process (kg ingest --workers) imports it
    sys.exit(main())
