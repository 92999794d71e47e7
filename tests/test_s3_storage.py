"""Build artifacts in an S3 bucket (storage.py, `CondaStore.storage_class = "s3"`), against a
real S3-protocol server: moto's, on 127.0.0.1 at a free port, with a fresh bucket per test."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from pathlib import Path

import boto3
import httpx
import pytest
import sqlalchemy as sa
import yaml
from botocore.config import Config
from sqlalchemy.orm import Session
from tornado.httpclient import HTTPClientError

from conda_store_jupyter.client import CondaStoreClient
from conda_store_jupyter.storage import StorageError, StorageSettings, storage_for
from conda_store_jupyter.store import ARTIFACT_FILE_NAMES, StoreLayout

from .servers import StandaloneServer
from .test_api import Client

pytestmark = pytest.mark.local_channel_only

PREFIX = "team/store"
CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server, in a thread of the test process, on a port the system picks."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=CREDENTIALS["region"],
        aws_access_key_id=CREDENTIALS["access_key_id"],
        aws_secret_access_key=CREDENTIALS["secret_access_key"],
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.fixture
def bucket(s3) -> str:
    name = f"csj-{secrets.token_hex(6)}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def settings(s3_endpoint: str, bucket: str) -> StorageSettings:
    return StorageSettings(
        kind="s3", bucket=bucket, prefix=PREFIX, endpoint_url=s3_endpoint, **CREDENTIALS
    )


@pytest.fixture
def conda_store_config(conda_store_config: dict, settings: StorageSettings) -> dict:
    conda_store_config.update(
        storage_class="s3",
        s3_bucket=settings.bucket,
        s3_prefix=settings.prefix,
        s3_endpoint_url=settings.endpoint_url,
        s3_region=settings.region,
        s3_access_key_id=settings.access_key_id,
        s3_secret_access_key=settings.secret_access_key,
        s3_presigned_url_expiry=120,
    )
    return conda_store_config


def keys(s3, bucket: str) -> set[str]:
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"] for item in listed}


def key(build_id: int, kind: str) -> str:
    return f"{PREFIX}/.artifacts/{build_id}/{ARTIFACT_FILE_NAMES[kind]}"


# -- the storage itself ---------------------------------------------------------------------
def test_publish_moves_every_artifact_into_the_bucket(tmp_path: Path, settings, s3, bucket):
    layout = StoreLayout(tmp_path / "store")
    contents = {kind: f"{kind} of build 7\n".encode() * 3 for kind in ARTIFACT_FILE_NAMES}
    for kind, content in contents.items():
        layout.artifact_path(7, kind).parent.mkdir(parents=True, exist_ok=True)
        layout.artifact_path(7, kind).write_bytes(content)
    storage = storage_for(settings)
    storage.check()

    storage.publish(layout, 7)

    assert keys(s3, bucket) == {key(7, kind) for kind in ARTIFACT_FILE_NAMES}
    assert not any(layout.artifact_path(7, kind).exists() for kind in ARTIFACT_FILE_NAMES)
    for kind, content in contents.items():
        assert storage.read_bytes(layout, 7, kind) == content
        assert storage.exists(layout, 7, kind)
    line = len(b"logs of build 7\n")
    assert storage.read_range(layout, 7, "logs", line, 1000) == contents["logs"][line:]
    assert storage.read_range(layout, 7, "logs", 10_000, 1000) == b""
    url = storage.download_url(layout, 7, "lockfile", "demo-7-conda-lock.yml")
    assert url is not None and url.startswith(settings.endpoint_url)
    answer = httpx.get(url)
    assert answer.status_code == 200 and answer.content == contents["lockfile"]
    assert 'filename="demo-7-conda-lock.yml"' in answer.headers["Content-Disposition"]

    storage.delete(layout, 7, "archive")
    assert key(7, "archive") not in keys(s3, bucket)
    assert storage.read_bytes(layout, 7, "archive") is None
    assert not storage.exists(layout, 7, "archive")
    assert storage.download_url(layout, 7, "archive", "demo-7.tar.gz") is None
    # Nothing of another build, nor a local file, is found in the bucket.
    assert storage.read_bytes(layout, 8, "logs") is None
    assert storage.read_range(layout, 8, "logs", 0, 10) is None


def test_a_local_file_is_read_before_the_bucket(tmp_path: Path, settings):
    layout = StoreLayout(tmp_path / "store")
    path = layout.artifact_path(3, "logs")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"still running\n")
    storage = storage_for(settings)
    assert storage.read_bytes(layout, 3, "logs") == b"still running\n"
    assert storage.download_url(layout, 3, "logs", "x.log") is None  # served from the file


def test_a_missing_bucket_is_named_with_its_endpoint(settings):
    missing = StorageSettings(**{**settings.__dict__, "bucket": "no-such-bucket-here"})
    with pytest.raises(StorageError) as raised:
        storage_for(missing).check()
    assert "no-such-bucket-here" in raised.value.message
    assert settings.endpoint_url in raised.value.message
    assert "does not exist" in raised.value.message


class TestMissingBucketAtStart:
    @pytest.fixture
    def conda_store_config(self, conda_store_config: dict) -> dict:
        conda_store_config["s3_bucket"] = "no-such-bucket-at-start"
        return conda_store_config

    async def test_the_api_says_which_bucket(self, jp_fetch, settings):
        with pytest.raises(HTTPClientError) as raised:
            await jp_fetch("conda-store", "api", "v1", "")
        assert raised.value.code == 503
        message = json.loads(raised.value.response.body)["message"]
        assert "could not start" in message and "no-such-bucket-at-start" in message
        assert settings.endpoint_url in message


# -- through the server, with real builds -----------------------------------------------------
@pytest.fixture
def api(jp_fetch, jp_started_server) -> Client:
    return Client(jp_fetch, jp_started_server)


async def published(api: Client, build_id: int) -> None:
    """Wait until the build process has published its artifacts: it removes the local log
    last, after the build is final in the database."""
    path = api.service.layout.log_path(build_id)
    deadline = time.monotonic() + 120
    while path.exists():
        assert time.monotonic() < deadline, f"build {build_id}'s artifacts were never published"
        await asyncio.sleep(0.05)


async def redirect(api: Client, *path: str) -> str:
    """The Location of a download that must redirect to the bucket."""
    response = await api.fetch(
        "conda-store", "api", "v1", *path, "", follow_redirects=False, raise_error=False
    )
    assert response.code in (302, 307), (response.code, response.body)
    return response.headers["Location"]


async def test_a_build_publishes_its_artifacts(api, s3, bucket, settings):
    build_id = await api.submit("demo", "gamma")
    build = await api.wait(build_id)
    assert build["status"] == "COMPLETED", build["status_info"]
    await published(api, build_id)

    layout = api.service.layout
    kinds = ("logs", "lockfile", "yaml", "explicit")
    assert keys(s3, bucket) == {key(build_id, kind) for kind in kinds}
    assert not any(layout.artifact_path(build_id, kind).exists() for kind in kinds)
    stored = {
        kind: s3.get_object(Bucket=bucket, Key=key(build_id, kind))["Body"].read() for kind in kinds
    }
    assert b"gamma" in stored["lockfile"] and b"gamma" in stored["explicit"]

    async with httpx.AsyncClient() as client:
        for kind in ("lockfile", "yaml", "explicit", "logs"):
            location = await redirect(api, "build", str(build_id), kind)
            assert location.startswith(settings.endpoint_url + "/"), location
            answer = await client.get(location)
            assert answer.status_code == 200 and answer.content == stored[kind]
            assert f'filename="demo-{build_id}' in answer.headers["Content-Disposition"]
        location = await redirect(api, "environment", "default", "demo", "lockfile")
        assert (await client.get(location)).content == stored["lockfile"]

    # The log as read by the panel: from an offset, then live (server-sent events).
    log = stored["logs"]
    assert f"starting build {build_id}".encode() in log and b"build COMPLETED in" in log
    whole = await api.call("GET", "build", str(build_id), "logs", raw=True, offset=0)
    assert whole.body == log and whole.headers["X-Log-Offset"] == str(len(log))
    middle = log.index(b"\n") + 1
    rest = await api.call("GET", "build", str(build_id), "logs", raw=True, offset=middle)
    assert rest.body == log[middle:] and rest.headers["X-Log-Offset"] == str(len(log))
    past = await api.call("GET", "build", str(build_id), "logs", raw=True, offset=len(log) + 5)
    assert past.body == b"" and past.headers["X-Log-Offset"] == str(len(log) + 5)
    stream = await api.call("GET", "build", str(build_id), "logs", "stream", raw=True)
    events = [event.splitlines() for event in stream.body.decode().split("\n\n") if event]
    sent = [event[-1].removeprefix("data: ") for event in events if event[0] == "event: log"]
    assert sent == log.decode().splitlines() and events[-1][0] == "event: end"


async def test_archive_on_demand_and_delete(api, s3, bucket):
    first = await api.wait(await api.submit("evolve", "alpha 1.0"))
    second = await api.wait(await api.submit("evolve", "gamma"))
    assert (first["status"], second["status"]) == ("COMPLETED", "COMPLETED")
    await published(api, first["id"])
    await published(api, second["id"])
    layout = api.service.layout

    # Made on demand, then published like the rest.
    location = await redirect(api, "build", str(first["id"]), "archive")
    assert key(first["id"], "archive") in keys(s3, bucket)
    assert not layout.artifact_path(first["id"], "archive").exists()
    async with httpx.AsyncClient() as client:
        answer = await client.get(location)
    assert answer.status_code == 200 and answer.content[:2] == b"\x1f\x8b"
    assert answer.headers["Content-Type"] == "application/gzip"
    artifacts = (await api.call("GET", "build", str(first["id"])))["data"]["build_artifacts"]
    assert "CONDA_PACK" in {artifact["artifact_type"] for artifact in artifacts}
    # Asked again: found in the bucket, not made again.
    assert (await redirect(api, "build", str(first["id"]), "archive")).startswith(
        location.split("?")[0]
    )

    await api.call("DELETE", "build", str(first["id"]))
    remaining = keys(s3, bucket)
    # The log and the lock file stay (what is needed to know and redo the build); the rest goes.
    assert key(first["id"], "logs") in remaining and key(first["id"], "lockfile") in remaining
    for kind in ("archive", "yaml", "explicit"):
        assert key(first["id"], kind) not in remaining
    assert {key(second["id"], kind) for kind in ("logs", "lockfile", "yaml")} <= remaining
    # The kept log is still served.
    log = await api.call("GET", "build", str(second["id"]), "logs", raw=True, offset=0)
    assert b"build COMPLETED in" in log.body


async def test_collection_deletes_in_the_bucket_and_restore_reads_from_it(api, s3, bucket):
    first = await api.wait(await api.submit("kept", "alpha 1.0"))
    second = await api.wait(await api.submit("kept", "alpha 1.1"))
    assert (first["status"], second["status"]) == ("COMPLETED", "COMPLETED")
    await published(api, first["id"])
    await redirect(api, "build", str(first["id"]), "archive")  # an archive in the bucket
    assert key(first["id"], "archive") in keys(s3, bucket)

    report = api.service.collector(keep_builds=1).run()
    assert [build.build_id for build in report.builds] == [first["id"]]
    remaining = keys(s3, bucket)
    assert key(first["id"], "archive") not in remaining, "retention deletes it there too"
    assert {key(first["id"], kind) for kind in ("logs", "lockfile")} <= remaining

    # The restore reads the lock file from the bucket; its log lines follow the build's own.
    await api.call("POST", "build", str(first["id"]), "restore")
    restored = await api.wait(first["id"])
    assert restored["status"] == "COMPLETED" and restored["collected_on"] is None, restored
    await published(api, first["id"])
    log = s3.get_object(Bucket=bucket, Key=key(first["id"], "logs"))["Body"].read().decode()
    assert log.index("build COMPLETED in") < log.index("restoring build")
    assert log.count("build COMPLETED in") == 2  # the build's, then the restore's


def test_objects_go_only_once_the_delete_has_committed(tmp_path: Path, settings, s3, bucket):
    layout = StoreLayout(tmp_path / "store")
    path = layout.artifact_path(5, "archive")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x1f\x8b archive")
    storage = storage_for(settings)
    storage.publish(layout, 5)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with Session(engine) as session:
        with pytest.raises(RuntimeError), session.begin():
            storage.delete_after_commit(session, layout, 5, "archive")
            raise RuntimeError("the delete failed: nothing changes")
        assert key(5, "archive") in keys(s3, bucket)
        with session.begin():
            storage.delete_after_commit(session, layout, 5, "archive")
            assert key(5, "archive") in keys(s3, bucket)
        assert key(5, "archive") not in keys(s3, bucket)
    engine.dispose()


def test_the_python_client_follows_the_redirects(tmp_path: Path, local_channel, settings, s3):
    """`jupyter conda-store` as its own process, its builds in theirs, and the Python client
    reading the lock file and the log through the redirects to the bucket."""
    workdir = tmp_path / "server"
    workdir.mkdir()
    (workdir / "jupyter_conda_store_config.py").write_text(
        f"c.CondaStore.channels = [{local_channel!r}]\n"
        f"c.CondaStore.store_dir = {str(tmp_path / 'store')!r}\n"
        "c.CondaStore.storage_class = 's3'\n"
        f"c.CondaStore.s3_bucket = {settings.bucket!r}\n"
        f"c.CondaStore.s3_prefix = {settings.prefix!r}\n"
        f"c.CondaStore.s3_endpoint_url = {settings.endpoint_url!r}\n"
        f"c.CondaStore.s3_region = {settings.region!r}\n"
        f"c.CondaStore.s3_access_key_id = {settings.access_key_id!r}\n"
        f"c.CondaStore.s3_secret_access_key = {settings.secret_access_key!r}\n"
        "c.CondaStore.role_bindings = {'*/*': ['admin']}\n"
    )
    server = StandaloneServer(workdir).start()
    try:
        client = CondaStoreClient(server.url, server.token)
        document = yaml.safe_dump({"name": "remote", "dependencies": ["gamma"]})
        build = client.wait(client.create_environment(document, "default"), progress=False)
        assert build["status"] == "COMPLETED"
        log_path = StoreLayout(tmp_path / "store").log_path(build["id"])
        deadline = time.monotonic() + 120
        while log_path.exists():  # published when the build process ends
            assert time.monotonic() < deadline, "the build's artifacts were never published"
            time.sleep(0.05)
        stored = s3.get_object(Bucket=settings.bucket, Key=key(build["id"], "lockfile"))
        assert client.lockfile(build["id"]) == stored["Body"].read().decode()
        assert client.lockfile("default/remote") == client.lockfile(build["id"])
        assert "build COMPLETED in" in client.logs(build["id"])
    finally:
        server.stop()
