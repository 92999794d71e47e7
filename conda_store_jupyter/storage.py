"""Where a build's artifacts live once the build has ended: in the store's directory (the
default, `CondaStore.storage_class = "local"`) or in an S3 bucket (`"s3"`, any S3-protocol
server: AWS, MinIO, Ceph...).

Every artifact is written into the store's directory first (store.py's layout): a running
build's log grows there and is read from there, live. With S3, `publish` then uploads the
build's files (log, lock file, environment YAML, @EXPLICIT file, conda-pack archive) to
`<s3_prefix>/<path relative to the store>` — the same relative path a `BuildArtifact` row's
`key` holds — and removes the local copies. Readers ask the storage: a local file when there
is one (not published yet, or the local storage), else the bucket's object; downloads of a
stored object are a redirect to a presigned URL that expires after `s3_presigned_url_expiry`
seconds, so the bytes never pass through the server.

`storage_for(settings)` gives the storage of a `StorageSettings` (a picklable snapshot of the
configuration that travels with `BuildSettings` to every build process), one per settings and
process (a client is never shared across a fork).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CondaStoreError
from .store import ARTIFACT_FILE_NAMES, StoreLayout

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger("conda_store_jupyter.storage")

KINDS = tuple(ARTIFACT_FILE_NAMES)  # logs, lockfile, yaml, explicit, archive
KIND_OF_FILE = {file_name: kind for kind, file_name in ARTIFACT_FILE_NAMES.items()}
CONTENT_TYPES = {
    "logs": "text/plain; charset=utf-8",
    "lockfile": "text/yaml; charset=utf-8",
    "yaml": "text/yaml; charset=utf-8",
    "explicit": "text/plain; charset=utf-8",
    "archive": "application/gzip",
}
# Session.info key of the objects a transaction deletes, removed once it has committed.
_PENDING = "conda_store_storage_deletes"


class StorageError(CondaStoreError):
    """The object storage could not be reached or refused a request: the server depends on it,
    so a request needing it fails with a message naming the bucket and the endpoint."""

    status_code = 502


@dataclasses.dataclass(frozen=True)
class StorageSettings:
    """Where artifacts go (`CondaStore.storage_class` and `CondaStore.s3_*`). Empty credentials
    and region: boto3's own chain (environment, ~/.aws, instance or pod role)."""

    kind: str = "local"  # "local" | "s3"
    bucket: str = ""
    prefix: str = ""
    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = dataclasses.field(default="", repr=False)
    presigned_url_expiry: int = 600


class ArtifactStorage:
    """Where a build's artifacts are kept. This base keeps them in the store's directory."""

    remote = False

    def __init__(self, settings: StorageSettings):
        self.settings = settings

    def check(self) -> None:
        """Raise a `StorageError` saying what is wrong if the storage cannot be used."""

    def publish(self, layout: StoreLayout, build_id: int, kinds: tuple[str, ...] = KINDS) -> None:
        """After a build (or a restore) has ended, whatever its status: move its artifact files
        (of `kinds`) to where they are kept. Nothing to do here."""

    def read_bytes(self, layout: StoreLayout, build_id: int, kind: str) -> bytes | None:
        """The artifact's bytes: the local file if there is one, else the stored object; None
        if neither exists."""
        try:
            return layout.artifact_path(build_id, kind).read_bytes()
        except FileNotFoundError:
            return self._stored_range(layout, build_id, kind, 0, None)

    def read_range(
        self, layout: StoreLayout, build_id: int, kind: str, offset: int, limit: int
    ) -> bytes | None:
        """At most `limit` bytes of the stored object (not the local file) from `offset` (empty
        past its end); None if nothing is stored."""
        return self._stored_range(layout, build_id, kind, offset, limit)

    def exists(self, layout: StoreLayout, build_id: int, kind: str) -> bool:
        """Whether the artifact is there, as a local file or a stored object."""
        return layout.artifact_path(build_id, kind).is_file()

    def download_url(
        self, layout: StoreLayout, build_id: int, kind: str, filename: str
    ) -> str | None:
        """A URL to send the client to for the artifact (saved as `filename`), or None: serve
        the local file (if there is one)."""
        return None

    def delete(self, layout: StoreLayout, build_id: int, kind: str) -> None:
        """Remove the artifact: its local file and its stored object, if any. Called once the
        database has let go of it: an object that cannot be deleted is left behind (unreachable
        garbage) and logged, not raised."""
        layout.artifact_path(build_id, kind).unlink(missing_ok=True)

    def delete_after_commit(
        self, session: Session, layout: StoreLayout, build_id: int, kind: str
    ) -> None:
        """Delete the stored object once `session`'s transaction has committed (the database
        decides first: a rollback keeps it). The local file is the caller's (`Removals`)."""
        if not self.remote:
            return
        pending = session.info.get(_PENDING)
        if pending is None:
            import sqlalchemy as sa

            pending = session.info[_PENDING] = []

            def committed(session: Session) -> None:
                for layout, build_id, kind in session.info.pop(_PENDING, []):
                    try:
                        self.delete(layout, build_id, kind)
                    except OSError as error:
                        log.warning("conda-store: %s not removed after its delete: %s", kind, error)

            sa.event.listen(session, "after_commit", committed)
            sa.event.listen(session, "after_soft_rollback", lambda s, _: s.info.pop(_PENDING, 0))
        pending.append((layout, build_id, kind))

    def _stored_range(
        self, layout: StoreLayout, build_id: int, kind: str, offset: int, limit: int | None
    ) -> bytes | None:
        return None


class LocalStorage(ArtifactStorage):
    """The default: the files stay in the store's directory; nothing is published."""


class S3Storage(ArtifactStorage):
    """Artifacts in an S3 bucket, published when their build ends."""

    remote = True

    def __init__(self, settings: StorageSettings):
        super().__init__(settings)
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise StorageError(
                "CondaStore.storage_class is 's3' but boto3 is not installed: "
                "pip install 'conda-store-jupyter[s3]'"
            ) from None
        # A custom endpoint (MinIO, a test server) is addressed by path: its host names do not
        # resolve per bucket as AWS's do.
        addressing = {"addressing_style": "path"} if settings.endpoint_url else {}
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.endpoint_url or None,
            region_name=settings.region or None,
            aws_access_key_id=settings.access_key_id or None,
            aws_secret_access_key=settings.secret_access_key or None,
            config=Config(
                signature_version="s3v4",
                s3=addressing,
                connect_timeout=10,
                read_timeout=60,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    # -- names ------------------------------------------------------------------------------
    @property
    def where(self) -> str:
        endpoint = self.settings.endpoint_url or "AWS S3"
        return f"bucket {self.settings.bucket!r} at {endpoint}"

    def key(self, layout: StoreLayout, build_id: int, kind: str) -> str:
        relative = layout.artifact_path(build_id, kind).relative_to(layout.root).as_posix()
        prefix = self.settings.prefix.strip("/")
        return f"{prefix}/{relative}" if prefix else relative

    def _failure(self, action: str, error: Exception) -> StorageError:
        return StorageError(f"the artifact storage ({self.where}) failed to {action}: {error}")

    # -- operations -------------------------------------------------------------------------
    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        if not self.settings.bucket:
            raise StorageError("CondaStore.storage_class is 's3' but CondaStore.s3_bucket is empty")
        try:
            self.client.head_bucket(Bucket=self.settings.bucket)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket"):
                raise StorageError(
                    f"CondaStore.s3_bucket: {self.where} does not exist; create it, or set "
                    "CondaStore.s3_bucket (and s3_endpoint_url) to an existing bucket"
                ) from None
            if code in ("403", "AccessDenied"):
                raise StorageError(
                    f"CondaStore.s3_bucket: access to {self.where} is denied with these "
                    "credentials (CondaStore.s3_access_key_id, or boto3's credential chain)"
                ) from None
            raise self._failure("answer", error) from None
        except BotoCoreError as error:  # unreachable endpoint, no credentials, bad URL...
            raise StorageError(
                f"CondaStore.s3_bucket: {self.where} is not usable: {error}"
            ) from None

    def publish(self, layout: StoreLayout, build_id: int, kinds: tuple[str, ...] = KINDS) -> None:
        """Upload the build's artifact files present locally, then remove them. A file that
        fails to upload stays local (it is still served from there) and is logged; the log
        goes last so that, while it is local, the build's other files are known to be done."""
        from botocore.exceptions import BotoCoreError, ClientError

        for kind in sorted(kinds, key=lambda kind: kind == "logs"):
            path = layout.artifact_path(build_id, kind)
            if not path.is_file():
                continue
            try:
                self.client.upload_file(
                    str(path),
                    self.settings.bucket,
                    self.key(layout, build_id, kind),
                    ExtraArgs={"ContentType": CONTENT_TYPES[kind]},
                )
            except FileNotFoundError:  # published (and removed) by someone else meanwhile
                continue
            except (BotoCoreError, ClientError, OSError) as error:
                log.warning(
                    "conda-store: build %s's %s not uploaded to %s (kept in %s): %s",
                    build_id,
                    kind,
                    self.where,
                    path,
                    error,
                )
                continue
            # Uploaded before removed: a reader finds the file or the object, never neither.
            path.unlink(missing_ok=True)

    def _stored_range(
        self, layout: StoreLayout, build_id: int, kind: str, offset: int, limit: int | None
    ) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        request: dict[str, Any] = {
            "Bucket": self.settings.bucket,
            "Key": self.key(layout, build_id, kind),
        }
        if offset or limit is not None:
            end = "" if limit is None else str(offset + limit - 1)
            request["Range"] = f"bytes={offset}-{end}"
        try:
            answer = self.client.get_object(**request)
            return answer["Body"].read()
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404"):
                return None
            if code == "InvalidRange":  # from past its end: nothing more
                return b""
            raise self._failure(f"read build {build_id}'s {kind}", error) from None
        except BotoCoreError as error:
            raise self._failure(f"read build {build_id}'s {kind}", error) from None

    def _stored(self, layout: StoreLayout, build_id: int, kind: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_object(
                Bucket=self.settings.bucket, Key=self.key(layout, build_id, kind)
            )
            return True
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._failure(f"find build {build_id}'s {kind}", error) from None
        except BotoCoreError as error:
            raise self._failure(f"find build {build_id}'s {kind}", error) from None

    def exists(self, layout: StoreLayout, build_id: int, kind: str) -> bool:
        return super().exists(layout, build_id, kind) or self._stored(layout, build_id, kind)

    def download_url(
        self, layout: StoreLayout, build_id: int, kind: str, filename: str
    ) -> str | None:
        if layout.artifact_path(build_id, kind).is_file() or not self._stored(
            layout, build_id, kind
        ):
            return None
        safe = filename.replace("\\", "_").replace('"', "_")
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.settings.bucket,
                "Key": self.key(layout, build_id, kind),
                "ResponseContentDisposition": f'attachment; filename="{safe}"',
                "ResponseContentType": CONTENT_TYPES[kind],
            },
            ExpiresIn=self.settings.presigned_url_expiry,
        )

    def delete(self, layout: StoreLayout, build_id: int, kind: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        super().delete(layout, build_id, kind)
        try:
            self.client.delete_object(
                Bucket=self.settings.bucket, Key=self.key(layout, build_id, kind)
            )
        except (BotoCoreError, ClientError) as error:
            log.warning(
                "conda-store: %s", self._failure(f"delete build {build_id}'s {kind}", error)
            )


STORAGE_CLASSES: dict[str, type[ArtifactStorage]] = {"local": LocalStorage, "s3": S3Storage}
_storages: dict[tuple[StorageSettings, int], ArtifactStorage] = {}
_storages_lock = threading.Lock()


def continue_log(storage: ArtifactStorage, layout: StoreLayout, build_id: int) -> None:
    """Before lines are added to an ended build's log (a restore, a recovery's last word):
    bring it back from the storage if only the storage has it, so that they follow it instead
    of starting a new log that would replace it when published."""
    path = layout.log_path(build_id)
    if path.is_file() and path.stat().st_size > 0:
        return
    earlier = storage.read_range(layout, build_id, "logs", 0, 1 << 40)
    if earlier:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as file:
            file.write(earlier)


def storage_for(settings: StorageSettings) -> ArtifactStorage:
    """The storage of `settings`, made once per process (a forked build process makes its own:
    an HTTP connection pool must not be shared across a fork)."""
    key = (settings, os.getpid())
    with _storages_lock:
        storage = _storages.get(key)
        if storage is None:
            if settings.kind not in STORAGE_CLASSES:
                raise StorageError(
                    f"CondaStore.storage_class {settings.kind!r} is unknown; use one of "
                    f"{', '.join(STORAGE_CLASSES)}"
                )
            storage = _storages[key] = STORAGE_CLASSES[settings.kind](settings)
        return storage


def kind_of(key: str) -> str | None:
    """The artifact kind of a `BuildArtifact.key` (its file name), or None."""
    return KIND_OF_FILE.get(Path(key).name)
