"""Wire model of `GET watched/` (handlers/watched.py): the specification files of
`CondaStore.watch_paths` and what became of each (service/watched.py)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class WatchedSpecification(BaseModel):
    path: str = Field(description="The file, as the server sees it.")
    namespace: str
    environment: str | None = Field(description="Its environment (null: none built yet).")
    sha256: str = Field(description="SHA-256 of the content last acted on.")
    build_id: int | None = Field(description="The build its content last made.")
    error: str | None = Field(
        description="Why its content made no build (null: it did); what was built stays."
    )
    updated_on: dt.datetime
