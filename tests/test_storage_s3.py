"""The storage_s3 plugin on a real S3-compatible server (SeaweedFS, tests/s3_server.py):
uploads and downloads through the API, presigned downloads, a site that switches from
``local`` to ``s3``, ``agorakit attachments migrate``, the readiness check and the config
errors."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from click.testing import CliRunner
from test_attachments import ELF, HTML, PDF, PNG, upload

from agorakit.attachments import service
from agorakit.attachments.migrate import migrate_files
from agorakit.attachments.storage import new_key, storage_for
from agorakit.attachments.tables import Attachment
from agorakit.cli import build_cli
from agorakit.plugins.storage_s3.settings import S3Settings
from agorakit.plugins.storage_s3.storage import S3Storage
from agorakit.settings import ConfigError, settings_from_dict

#: where this module's files go in the test bucket
PREFIX = "api-tests/"
KEY = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def files_dir(tmp_path) -> Path:
    return tmp_path / "files"


@pytest.fixture
def site_config(s3_server, files_dir):
    return s3_server.site_config(files_dir, prefix=PREFIX)


def stored_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


async def row_of(attachment_id: int) -> dict:
    return await Attachment.select().where(Attachment.id == attachment_id).first()


async def keep_locally(runtime, member, data: bytes, filename: str) -> dict:
    """A file uploaded while the site kept its files in the ``local`` folder: in that
    folder, its row naming ``local``."""
    key = new_key()
    await storage_for(runtime, "local").save(key, data)
    content_type = service.detect_type(data)
    async with runtime.unit_of_work() as uow:
        attachment_id = await service._insert_row(
            uow, member.id, f"member:{member.id}", filename, content_type, data, "local", key
        )
    return await row_of(attachment_id)


def assert_download_headers(headers, *, content_type: str, filename: str) -> None:
    assert headers["content-type"] == content_type
    assert (
        headers["content-disposition"] == f"attachment; filename=\"{filename}\"; filename*=UTF-8''{filename}"
    )
    assert headers["cache-control"] == "private, no-store"


# --------------------------------------------------------------------------------------
# Uploads and downloads through the app (downloads = "proxy", the default)
# --------------------------------------------------------------------------------------


async def test_upload_goes_to_the_bucket_under_a_random_key_and_downloads_through_the_app(
    client, runtime, make_member, s3_server, files_dir
):
    member = await make_member()
    response = await upload(client, member, f"member:{member.id}", PNG, filename="secret plans.png")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["filename"], body["content_type"], body["size"]) == (
        "secret plans.png",
        "image/png",
        len(PNG),
    )
    row = await row_of(body["id"])
    assert row["storage"] == "s3" and KEY.fullmatch(row["storage_key"])
    # The object is named by the random key below the prefix, never by the client's name.
    keys = s3_server.keys(PREFIX)
    assert f"{PREFIX}{row['storage_key']}" in keys
    assert not [k for k in keys if "secret" in k or "plans" in k or k.endswith(".png")]
    assert stored_files(files_dir) == []
    obj = await asyncio.to_thread(
        lambda: bytes(s3_server.store().get(f"{PREFIX}{row['storage_key']}").bytes())
    )
    assert obj == PNG

    content = await client.get(body["url"], headers=member.headers)
    assert content.status_code == 200
    assert content.content == PNG
    assert content.headers["content-type"] == "image/png"
    assert content.headers["content-disposition"] == (
        "attachment; filename=\"secret plans.png\"; filename*=UTF-8''secret%20plans.png"
    )
    assert content.headers["x-content-type-options"] == "nosniff"
    assert content.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert content.headers["cache-control"] == "private, no-store"
    assert content.headers["etag"] == f'"{hashlib.sha256(PNG).hexdigest()}"'
    assert content.headers["content-length"] == str(len(PNG))

    # Streamed from the bucket in pieces: a file of several pieces arrives whole.
    big = PNG + bytes(range(256)) * 2500
    large = (await upload(client, member, f"member:{member.id}", big, "big.png")).json()
    streamed = await client.get(large["url"], headers=member.headers)
    assert (streamed.status_code, streamed.headers["content-length"]) == (200, str(len(big)))
    assert streamed.content == big

    text = (await upload(client, member, f"member:{member.id}", "ünïcode\n".encode(), "notes.txt")).json()
    download = await client.get(text["url"], headers=member.headers)
    assert (download.headers["content-type"], download.text) == ("text/plain; charset=utf-8", "ünïcode\n")


async def test_a_non_party_gets_404_and_no_file(client, runtime, make_member, problem):
    owner, stranger = await make_member(), await make_member()
    attachment = (await upload(client, owner, f"member:{owner.id}", PDF, "a.pdf")).json()
    body = problem(await client.get(attachment["url"], headers=stranger.headers), 404, "not_found")
    assert body["detail"] == f"there is no attachment {attachment['id']}"
    assert (await client.get(attachment["url"])).status_code == 401
    operator = await make_member(role="operator")
    assert (await client.get(attachment["url"], headers=operator.headers)).content == PDF


async def test_a_file_gone_from_the_bucket_is_a_404_that_says_so(
    client, runtime, make_member, s3_server, problem
):
    member = await make_member()
    attachment = (await upload(client, member, f"member:{member.id}", PNG)).json()
    row = await row_of(attachment["id"])
    await asyncio.to_thread(s3_server.store().delete, f"{PREFIX}{row['storage_key']}")
    body = problem(await client.get(attachment["url"], headers=member.headers), 404, "not_found")
    assert (
        body["detail"] == f"the file of attachment {attachment['id']} is missing; tell the site's operators"
    )


class TestLimits:
    @pytest.fixture
    def site_config(self, s3_server, files_dir):
        config = s3_server.site_config(files_dir, prefix=PREFIX)
        config["attachments"]["max_bytes"] = 1000
        return config

    async def test_too_large_is_413_and_a_wrong_type_415_and_nothing_reaches_the_bucket(
        self, client, runtime, make_member, s3_server, problem
    ):
        member = await make_member()
        before = s3_server.keys(PREFIX)
        scope = f"member:{member.id}"
        body = problem(await upload(client, member, scope, PNG + b"\x00" * 1000), 413, "request_too_large")
        assert body["extra"]["max_bytes"] == 1000
        problem(await upload(client, member, scope, PNG + b"\x00" * 300_000), 413, "request_too_large")
        body = problem(await upload(client, member, scope, ELF, "tool.png"), 415, "unsupported_media_type")
        assert body["extra"]["detected"] == "application/x-executable"
        body = problem(await upload(client, member, scope, HTML, "page.txt"), 415, "unsupported_media_type")
        assert body["extra"]["detected"] == "text/html"
        assert s3_server.keys(PREFIX) == before
        assert await Attachment.count() == 0


# --------------------------------------------------------------------------------------
# Presigned downloads
# --------------------------------------------------------------------------------------


class TestPresigned:
    @pytest.fixture
    def site_config(self, s3_server, files_dir):
        return s3_server.site_config(files_dir, prefix=PREFIX, downloads="presigned", presign_seconds=2)

    async def test_the_download_redirects_to_a_presigned_url_with_the_headers_that_expires(
        self, client, runtime, make_member, s3_server
    ):
        member = await make_member()
        attachment = (await upload(client, member, f"member:{member.id}", PDF, "report.pdf")).json()
        key = (await row_of(attachment["id"]))["storage_key"]
        response = await client.get(attachment["url"], headers=member.headers)
        assert response.status_code == 307
        assert response.content == b""
        assert response.headers["cache-control"] == "private, no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        location = response.headers["location"]
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}" == s3_server.endpoint
        assert parts.path == f"/{s3_server.bucket}/{PREFIX}{key}"
        query = parse_qs(parts.query)
        assert query["X-Amz-Expires"] == ["2"]
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert query["X-Amz-Credential"][0].startswith(f"{s3_server.access_key}/")
        assert query["response-content-type"] == ["application/pdf"]
        assert query["response-cache-control"] == ["private, no-store"]
        assert query["response-content-disposition"] == [
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        ]
        assert s3_server.secret_key not in location

        async with httpx.AsyncClient() as browser:  # no credentials of the site
            fetched = await browser.get(location)
            assert fetched.status_code == 200, fetched.text
            assert fetched.content == PDF
            assert_download_headers(fetched.headers, content_type="application/pdf", filename="report.pdf")
            # The signature covers the overrides: another type is refused.
            forged = location.replace(
                "response-content-type=application%2Fpdf", "response-content-type=text%2Fhtml"
            )
            assert forged != location
            assert (await browser.get(forged)).status_code == 403
            await asyncio.sleep(3.1)  # past the 2 seconds
            expired = await browser.get(location)
            assert expired.status_code == 403
            assert b"expired" in expired.content

    async def test_text_links_name_the_charset_and_strangers_get_no_link(
        self, client, runtime, make_member, problem
    ):
        owner, stranger = await make_member(), await make_member()
        text = (await upload(client, owner, f"member:{owner.id}", b"plain words\n", "notes.txt")).json()
        link = (await client.get(text["url"], headers=owner.headers)).headers["location"]
        assert parse_qs(urlsplit(link).query)["response-content-type"] == ["text/plain; charset=utf-8"]
        async with httpx.AsyncClient() as browser:
            fetched = await browser.get(link)
        assert fetched.text == "plain words\n"
        assert_download_headers(
            fetched.headers, content_type="text/plain; charset=utf-8", filename="notes.txt"
        )

        refused = await client.get(text["url"], headers=stranger.headers)
        problem(refused, 404, "not_found")
        assert "location" not in refused.headers and "X-Amz" not in refused.text
        anonymous = await client.get(text["url"])
        assert anonymous.status_code == 401 and "location" not in anonymous.headers

    async def test_a_file_kept_locally_is_still_sent_by_the_app(self, client, runtime, make_member):
        member = await make_member()
        row = await keep_locally(runtime, member, PNG, "old.png")
        response = await client.get(f"/attachments/{row['id']}/content", headers=member.headers)
        assert response.status_code == 200
        assert response.content == PNG
        assert response.headers["x-content-type-options"] == "nosniff"


# --------------------------------------------------------------------------------------
# Switching from local to s3, and moving the files
# --------------------------------------------------------------------------------------


async def test_a_site_switched_to_s3_still_serves_its_local_files(
    client, runtime, make_member, s3_server, files_dir
):
    member = await make_member()
    old = await keep_locally(runtime, member, PDF, "old.pdf")
    assert len(stored_files(files_dir)) == 1
    new = (await upload(client, member, f"member:{member.id}", PNG, "new.png")).json()
    assert (await row_of(new["id"]))["storage"] == "s3"
    assert len(stored_files(files_dir)) == 1  # the new one went to the bucket
    for attachment_id, data in [(old["id"], PDF), (new["id"], PNG)]:
        response = await client.get(f"/attachments/{attachment_id}/content", headers=member.headers)
        assert (response.status_code, response.content) == (200, data)


async def test_migrate_copies_checks_and_repoints_then_copies_nothing_more(
    client, runtime, make_member, s3_server, files_dir
):
    member = await make_member()
    rows = [
        await keep_locally(runtime, member, data, f"f{i}") for i, data in enumerate([PNG, PDF, b"text\n"])
    ]
    gone = await keep_locally(runtime, member, PNG, "gone.png")
    await storage_for(runtime, "local").delete(gone["storage_key"])
    in_s3 = (await upload(client, member, f"member:{member.id}", PNG)).json()

    dry = await migrate_files(runtime, to="s3", dry_run=True)
    assert (dict(dry.copied), dry.left) == ({"local": 3}, 1)
    assert dry.lines()[-2:] == [
        "would copy 3 files to s3 (3 from local)",
        "left 1 file in their old storage (1 missing, 0 failed); run the command again once they are fixed",
    ]
    assert {r["storage"] for r in await Attachment.select(Attachment.storage)} == {"local", "s3"}
    assert not [r for r in rows if f"{PREFIX}{r['storage_key']}" in s3_server.keys(PREFIX)]

    report = await migrate_files(runtime, to="s3", batch_size=2)
    assert dict(report.copied) == {"local": 3}
    assert report.failed == [] and report.deleted == 0
    assert report.missing == [
        f"attachment {gone['id']} (key {gone['storage_key']} in local): the file is not in local"
    ]
    storages = {r["id"]: r["storage"] for r in await Attachment.select(Attachment.id, Attachment.storage)}
    assert storages == {**{r["id"]: "s3" for r in rows}, gone["id"]: "local", in_s3["id"]: "s3"}
    keys = s3_server.keys(PREFIX)
    assert all(f"{PREFIX}{r['storage_key']}" in keys for r in rows)
    assert len(stored_files(files_dir)) == 3  # the old copies stay without --delete-source

    again = await migrate_files(runtime, to="s3")
    assert (dict(again.copied), again.missing) == ({}, report.missing)

    # The local folder can go: every moved file downloads from the bucket.
    shutil.rmtree(files_dir)
    for row, data in zip(rows, [PNG, PDF, b"text\n"], strict=True):
        response = await client.get(f"/attachments/{row['id']}/content", headers=member.headers)
        assert (response.status_code, response.content) == (200, data)


async def test_migrate_resumes_after_a_run_that_failed_half_way(runtime, make_member, monkeypatch):
    member = await make_member()
    rows = [await keep_locally(runtime, member, data, f"f{i}") for i, data in enumerate([PNG, PDF, b"t\n"])]
    target = storage_for(runtime, "s3")
    save = target.save

    async def bucket_gone_at_the_second(key, data):
        if key == rows[1]["storage_key"]:
            raise OSError("connection reset")
        await save(key, data)

    monkeypatch.setattr(target, "save", bucket_gone_at_the_second)
    first = await migrate_files(runtime, to="s3", batch_size=1)
    assert dict(first.copied) == {"local": 2}
    assert first.failed == [
        f"attachment {rows[1]['id']} (key {rows[1]['storage_key']} in local): could not be copied to s3 (OSError)"
    ]
    assert [(await row_of(r["id"]))["storage"] for r in rows] == ["s3", "local", "s3"]
    monkeypatch.undo()
    second = await migrate_files(runtime, to="s3")
    assert (dict(second.copied), second.left) == ({"local": 1}, 0)  # only what was left
    assert [(await row_of(r["id"]))["storage"] for r in rows] == ["s3", "s3", "s3"]


async def test_migrate_deletes_the_old_copies_when_asked_and_reports_a_mismatch(
    runtime, make_member, s3_server, files_dir
):
    member = await make_member()
    good = await keep_locally(runtime, member, PNG, "good.png")
    bad = await keep_locally(runtime, member, PDF, "bad.pdf")
    await storage_for(runtime, "local").save(bad["storage_key"], PDF + b"changed")  # not what the row says
    report = await migrate_files(runtime, to="s3", delete_source=True)
    assert (dict(report.copied), report.deleted, report.missing) == ({"local": 1}, 1, [])
    assert report.failed == [
        f"attachment {bad['id']} (key {bad['storage_key']} in local): "
        "the file does not match the size and SHA-256 its row records"
    ]
    assert [p.name for p in stored_files(files_dir)] == [bad["storage_key"]]
    assert (await row_of(good["id"]))["storage"] == "s3"
    assert (await row_of(bad["id"]))["storage"] == "local"
    assert await storage_for(runtime, "s3").read(good["storage_key"]) == PNG


async def test_the_cli_migrates_and_its_exit_status_says_what_was_left(
    runtime, make_member, s3_server, files_dir, tmp_path
):
    member = await make_member()
    kept = await keep_locally(runtime, member, PNG, "kept.png")
    gone = await keep_locally(runtime, member, PDF, "gone.pdf")
    await storage_for(runtime, "local").delete(gone["storage_key"])
    config = tmp_path / "site.toml"
    config.write_text(
        f'[site]\nplugins = ["storage_s3"]\n[auth]\njwt_secret = "{"k" * 40}"\n'
        f'[database]\nurl = "{runtime.settings.database.url}"\n'
        + s3_server.site_toml(files_dir, prefix=PREFIX),
        encoding="utf-8",
    )

    def run(*args: str):
        argv = ["--config", str(config), "attachments", "migrate", *args]
        return CliRunner().invoke(build_cli(argv), argv, catch_exceptions=False)

    # The command runs its own event loop: in a thread, beside the test's.
    dry = await asyncio.to_thread(run, "--to", "s3", "--dry-run")
    assert dry.exit_code == 1
    assert dry.output.splitlines()[-2] == "would copy 1 file to s3 (1 from local)"
    done = await asyncio.to_thread(run, "--to", "s3", "--delete-source")
    assert done.exit_code == 1, done.output
    assert done.output.splitlines() == [
        f"missing: attachment {gone['id']} (key {gone['storage_key']} in local): the file is not in local",
        "copied 1 file to s3 (1 from local)",
        "deleted 1 old copy",
        "left 1 file in their old storage (1 missing, 0 failed); run the command again once they are fixed",
    ]
    assert (await row_of(kept["id"]))["storage"] == "s3"
    assert stored_files(files_dir) == []
    await Attachment.delete().where(Attachment.id == gone["id"])
    clean = await asyncio.to_thread(run, "--to", "s3")
    assert (clean.exit_code, clean.output) == (0, "copied 0 files to s3\n")
    back = await asyncio.to_thread(run, "--to", "local")
    assert (back.exit_code, back.output) == (0, "copied 1 file to local (1 from s3)\n")
    unknown = await asyncio.to_thread(run, "--to", "nowhere")
    assert unknown.exit_code == 1
    assert "attachments.storage: no storage named 'nowhere'; storages available: local, s3" in unknown.output


# --------------------------------------------------------------------------------------
# Readiness
# --------------------------------------------------------------------------------------


class TestMissingBucket:
    @pytest.fixture
    def site_config(self, s3_server, files_dir):
        config = s3_server.site_config(files_dir)
        config["plugins"]["storage_s3"]["bucket"] = "no-such-bucket"
        return config

    async def test_ready_is_503_and_names_the_missing_bucket(self, client, problem):
        body = problem(await client.get("/health/ready"), 503, "service_unavailable")
        assert body["extra"]["failed"] == ["storage"]
        assert body["extra"]["checks"]["storage"] == "the S3 bucket 'no-such-bucket' does not exist"

    async def test_uploads_and_downloads_are_503_not_500(self, client, runtime, make_member, problem):
        member = await make_member()
        body = problem(await upload(client, member, f"member:{member.id}", PNG), 503, "service_unavailable")
        assert body["detail"] == "the site cannot reach its file storage right now; try again later"
        assert await Attachment.count() == 0
        async with runtime.unit_of_work() as uow:  # a file kept before the bucket went
            attachment_id = await service._insert_row(
                uow, member.id, f"member:{member.id}", "a.png", "image/png", PNG, "s3", new_key()
            )
        download = await client.get(f"/attachments/{attachment_id}/content", headers=member.headers)
        problem(download, 503, "service_unavailable")


async def test_ready_checks_the_bucket_takes_a_write(client, s3_server):
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["storage"] == "ok"
    assert f"{PREFIX}agorakit-ready-check" in s3_server.keys(PREFIX)  # written below the prefix


def bound(settings: S3Settings) -> S3Storage:
    """An s3 storage bound to a site with ``settings`` (no database needed)."""

    class Site:
        class settings:  # what Runtime.settings offers
            source = "site.toml"

        @staticmethod
        def plugin_settings(name):
            assert name == "storage_s3"
            return settings

    storage = S3Storage()
    storage.bind(Site())  # pyright: ignore[reportArgumentType]
    return storage


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_check_says_what_is_wrong_and_never_raises(s3_server):
    fine = bound(S3Settings(**s3_server.plugin_settings(prefix="checks/")))
    assert await fine.check() is None
    refused = bound(S3Settings(**s3_server.plugin_settings(secret_access_key="wrong-secret")))
    assert (
        await refused.check()
        == "the S3 bucket 'agorakit-test' refuses this site's credentials (no write access)"
    )
    started = time.monotonic()
    unreachable = bound(
        S3Settings(**s3_server.plugin_settings(endpoint_url=f"http://127.0.0.1:{free_port()}"))
    )
    assert await unreachable.check() == "the S3 endpoint is unreachable"
    assert time.monotonic() - started < 10
    missing = bound(S3Settings(**s3_server.plugin_settings(bucket="gone-bucket")))
    assert await missing.check() == "the S3 bucket 'gone-bucket' does not exist"


async def test_the_storage_keeps_the_protocols_promises(s3_server):
    storage = bound(S3Settings(**s3_server.plugin_settings(prefix="protocol/")))
    key = new_key()
    with pytest.raises(FileNotFoundError):
        await storage.read(key)
    await storage.delete(key)  # a missing key is fine
    await storage.save(key, b"data")
    assert await storage.read(key) == b"data"
    assert s3_server.keys("protocol/") == [f"protocol/{key}"]
    await storage.delete(key)
    assert s3_server.keys("protocol/") == []
    for wrong in ["../etc/passwd", "a/b", "ABCDEF0123456789ABCDEF", ""]:
        with pytest.raises(ValueError, match="not a storage key"):
            await storage.save(wrong, b"x")
    assert storage.link_seconds() is None  # proxy: the default


# --------------------------------------------------------------------------------------
# Config errors
# --------------------------------------------------------------------------------------


def test_settings_problems_are_config_errors():
    def problems(**values) -> list[str]:
        data = {
            "site": {"plugins": ["storage_s3"]},
            "auth": {"jwt_secret": "k" * 40},
            "plugins": {"storage_s3": values},
        }
        with pytest.raises(ConfigError) as info:
            settings_from_dict(data, source="site.toml", environ={})
        return info.value.messages

    assert problems(bucket="b-1", access_key_id="AKIA") == [
        "site.toml: plugins.storage_s3: set access_key_id and secret_access_key together (secret_access_key is empty)"
    ]
    assert problems(bucket="b-1", presign_seconds=0) == [
        "site.toml: plugins.storage_s3.presign_seconds: Expected `int` >= 1"
    ]
    assert problems(bucket="b-1", presign_seconds=86400) == [
        "site.toml: plugins.storage_s3.presign_seconds: Expected `int` <= 3600"
    ]
    assert problems(bucket="b-1", downloads="direct") == [
        "site.toml: plugins.storage_s3.downloads: Invalid enum value 'direct'; expected one of: presigned, proxy"
    ]
    assert len(problems(bucket="Bad_Bucket")) == 1
    assert len(problems(bucket="b-1", prefix="../up")) == 1
    # The secret may come from the environment.
    data = {
        "site": {"plugins": ["storage_s3"]},
        "auth": {"jwt_secret": "k" * 40},
        "plugins": {
            "storage_s3": {
                "bucket": "b-1",
                "access_key_id": "AKIA",
                "secret_access_key": {"$env": "S3_SECRET"},
            }
        },
    }
    settings = settings_from_dict(data, source="site.toml", environ={"S3_SECRET": "from-env"})
    assert settings.plugin("storage_s3").secret_access_key == "from-env"


class TestS3WithoutThePlugin:
    @pytest.fixture
    def site_config(self, files_dir):
        return {"attachments": {"storage": "s3", "path": str(files_dir)}}

    async def test_start_up_stops(self, site_settings, plugin_manager):
        from agorakit.runtime import Runtime

        with pytest.raises(ConfigError) as info:
            Runtime(site_settings, pm=plugin_manager)
        assert str(info.value) == (
            "test settings: attachments.storage: no storage named 's3'; storages available: local"
        )


class TestS3WithoutABucket:
    @pytest.fixture
    def site_config(self, files_dir):
        return {
            "site": {"plugins": ["storage_s3"]},
            "attachments": {"storage": "s3", "path": str(files_dir)},
        }

    async def test_start_up_stops(self, site_settings, plugin_manager):
        from agorakit.runtime import Runtime

        with pytest.raises(ConfigError) as info:
            Runtime(site_settings, pm=plugin_manager)
        assert str(info.value) == (
            "test settings: plugins.storage_s3.bucket: name the bucket that keeps the files "
            '(attachments.storage = "s3" or a migration to s3 uses it)'
        )
