"""Wire models of `GET usage/` (handlers/usage.py, service/usage.py)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class NamespaceUsage(BaseModel):
    namespace: str
    environments: int = Field(description="Live environments.")
    builds: int = Field(description="Builds not deleted (of live environments).")
    bytes: int = Field(
        description="Bytes of the namespace's prefixes on disk (files and links; a file "
        "hard-linked into several of its prefixes, or from the package cache, counted once)."
    )
    quota: int | None = Field(
        description="Bytes its builds may hold (CondaStore.namespace_quota[s]); null: no quota."
    )
    quota_used: int = Field(
        description="Bytes its builds hold against the quota: the sizes of its live prefixes "
        "as built (collected builds not counted), each prefix counted whole."
    )


class StoreUsage(BaseModel):
    bytes: int = Field(
        description="Bytes of the whole store (prefixes, package cache, artifacts, database), "
        "each hard-linked file counted once."
    )
    package_cache_bytes: int = Field(description="Bytes of the shared package cache.")
    free_bytes: int = Field(description="Free bytes on the store's disk.")
    storage_threshold: int = Field(
        description="Below this many free bytes new builds are refused (0: no check)."
    )


class Usage(BaseModel):
    namespaces: list[NamespaceUsage] = Field(description="The namespaces the caller may read.")
    store: StoreUsage
