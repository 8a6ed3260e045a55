"""Open the configured store (KG_STORE)."""

from __future__ import annotations

from kg.config import Settings
from kg.stores.base import GraphStore, StoreError


def open_store(settings: Settings) -> GraphStore:
    if settings.store == "falkordb":
        from kg.stores.falkordb_store import FalkorDBStore

        try:
            return FalkorDBStore.from_settings(settings)
        except OSError as e:
            raise StoreError(f"cannot start the embedded store in {settings.data_dir}: {e}") from None
    raise StoreError(
        f"KG_STORE={settings.store!r}: the Neo4j backend is not part of this version yet; "
        "use the embedded store (KG_STORE=falkordb)"
    )
