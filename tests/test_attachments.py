"""Attachments: upload, type and size checks, who may read, storages."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from test_orders import TestGigPlugin as GigPlugin
from test_orders import fund_credit, new_order

import agorakit
from agorakit.attachments import service
from agorakit.attachments.storage import LocalStorage, new_key
from agorakit.attachments.tables import Attachment
from agorakit.errors import ValidationFailed
from agorakit.settings import ConfigError

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120
HTML = b"<!DOCTYPE html><html><script>alert(1)</script></html>"


class MemoryStorage:
    """A storage plugin keeping files in a dict (what a site's S3 plugin would be)."""

    name = "memory"

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.bound_to = None

    def bind(self, runtime) -> None:
        self.bound_to = runtime

    async def save(self, key: str, data: bytes) -> None:
        self.files[key] = data

    async def read(self, key: str) -> bytes:
        try:
            return self.files[key]
        except KeyError:
            raise FileNotFoundError(key) from None

    async def delete(self, key: str) -> None:
        self.files.pop(key, None)


class MemoryStoragePlugin:
    def __init__(self) -> None:
        self.storage = MemoryStorage()

    @agorakit.hookimpl
    def agorakit_storages(self):
        return [self.storage]


@pytest.fixture
def files_dir(tmp_path) -> Path:
    return tmp_path / "files"


@pytest.fixture
def site_config(files_dir):
    return {"attachments": {"path": str(files_dir)}}


@pytest.fixture
def extra_plugins():
    return [("testgig", GigPlugin())]


async def upload(client, member, scope, data, filename="file.bin"):
    return await client.post(
        "/attachments",
        files={"file": (filename, data, "application/octet-stream")},
        data={"scope": scope},
        headers=member.headers,
    )


def stored_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


async def test_upload_png_and_download_it(client, runtime, make_member, files_dir):
    buyer, seller = await make_member(), await make_member()
    order = await new_order(runtime, buyer, seller)
    response = await upload(client, buyer, f"order:{order.id}", PNG, filename="logo brief.png")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["filename"] == "logo brief.png"
    assert (body["content_type"], body["size"], body["scope"]) == ("image/png", len(PNG), f"order:{order.id}")
    assert body["uploaded_by"] == buyer.id
    assert body["url"] == f"/attachments/{body['id']}/content"
    assert len(body["sha256"]) == 64
    assert len(stored_files(files_dir)) == 1

    meta = await client.get(f"/attachments/{body['id']}", headers=seller.headers)
    assert meta.json() == body
    content = await client.get(body["url"], headers=seller.headers)
    assert content.status_code == 200
    assert content.content == PNG
    assert content.headers["content-type"] == "image/png"
    assert content.headers["x-content-type-options"] == "nosniff"
    assert content.headers["content-disposition"] == (
        "attachment; filename=\"logo brief.png\"; filename*=UTF-8''logo%20brief.png"
    )


async def test_upload_type_is_read_from_the_content(client, runtime, make_member):
    buyer, seller = await make_member(), await make_member()
    order = await new_order(runtime, buyer, seller)
    pdf = (await upload(client, seller, f"order:{order.id}", PDF, filename="report")).json()
    assert (pdf["content_type"], pdf["filename"]) == ("application/pdf", "report.pdf")
    text = (await upload(client, buyer, f"order:{order.id}", "ünïcode notes\n".encode(), "notes.exe")).json()
    assert (text["content_type"], text["filename"]) == ("text/plain", "notes.exe.txt")
    content = await client.get(text["url"], headers=seller.headers)
    assert content.headers["content-type"] == "text/plain; charset=utf-8"
    assert content.text == "ünïcode notes\n"
    assert "filename*=UTF-8''notes.exe.txt" in content.headers["content-disposition"]


async def test_upload_larger_than_the_site_body_limit_is_accepted(client, runtime, make_member):
    """[http] max_body_bytes (1 MiB) does not apply: the file limit is [attachments] max_bytes."""
    buyer, seller = await make_member(), await make_member()
    order = await new_order(runtime, buyer, seller)
    big = PNG + b"\x00" * (2 * 1024 * 1024)
    response = await upload(client, buyer, f"order:{order.id}", big, filename="big.png")
    assert response.status_code == 201, response.text
    assert response.json()["size"] == len(big)


class TestSizeLimit:
    @pytest.fixture
    def site_config(self, files_dir):
        return {"attachments": {"path": str(files_dir), "max_bytes": 1000}}

    async def test_upload_over_max_bytes_is_413_and_stores_nothing(
        self, client, runtime, make_member, problem, files_dir
    ):
        buyer, seller = await make_member(), await make_member()
        order = await new_order(runtime, buyer, seller)
        body = problem(
            await upload(client, buyer, f"order:{order.id}", PNG + b"\x00" * 1000), 413, "request_too_large"
        )
        assert body["extra"]["max_bytes"] == 1000
        # Far beyond the limit: refused from the announced length, before reading it.
        huge = PNG + b"\x00" * 300_000
        problem(await upload(client, buyer, f"order:{order.id}", huge), 413, "request_too_large")
        assert await Attachment.count() == 0
        assert stored_files(files_dir) == []
        ok = await upload(client, buyer, f"order:{order.id}", PNG + b"\x00" * (1000 - len(PNG)))
        assert ok.status_code == 201, ok.text


async def test_upload_of_executable_or_html_is_415(client, runtime, make_member, problem, files_dir):
    buyer, seller = await make_member(), await make_member()
    order = await new_order(runtime, buyer, seller)
    body = problem(
        await upload(client, buyer, f"order:{order.id}", ELF, "tool.png"), 415, "unsupported_media_type"
    )
    assert "image/png" in body["extra"]["allowed_types"]
    assert body["extra"]["detected"] == "application/x-executable"
    body = problem(
        await upload(client, buyer, f"order:{order.id}", HTML, "page.txt"), 415, "unsupported_media_type"
    )
    assert body["extra"]["detected"] == "text/html"
    problem(
        await upload(client, buyer, f"order:{order.id}", b"\xff\xfe\x00binary"), 415, "unsupported_media_type"
    )
    assert stored_files(files_dir) == []


async def test_upload_that_is_not_multipart_is_415(client, runtime, make_member, problem):
    buyer, seller = await make_member(), await make_member()
    order = await new_order(runtime, buyer, seller)
    response = await client.post(
        "/attachments", json={"file": "x", "scope": f"order:{order.id}"}, headers=buyer.headers
    )
    problem(response, 415, "unsupported_media_type")


async def test_upload_empty_file_or_bad_form_is_422(client, runtime, make_member, problem):
    buyer, seller = await make_member(), await make_member()
    order = await new_order(runtime, buyer, seller)
    problem(await upload(client, buyer, f"order:{order.id}", b""), 422, "validation_error", fields={"file"})
    problem(await upload(client, buyer, "orders:12", PNG), 422, "validation_error", fields={"scope"})
    no_file = await client.post("/attachments", files={"scope": (None, "order:1")}, headers=buyer.headers)
    problem(no_file, 422, "validation_error", fields={"file"})
    nothing = await client.post(
        "/attachments", files={"other": ("x.png", PNG, "image/png")}, headers=buyer.headers
    )
    problem(nothing, 422, "validation_error", fields={"file", "scope"})
    assert await Attachment.count() == 0


async def test_non_party_gets_404_on_upload_and_download(client, runtime, make_member, problem):
    buyer, seller, stranger = await make_member(), await make_member(), await make_member()
    order = await new_order(runtime, buyer, seller)
    problem(await upload(client, stranger, f"order:{order.id}", PNG), 404, "not_found")
    problem(await upload(client, stranger, "order:999999", PNG), 404, "not_found")
    problem(await upload(client, stranger, "conversation:999999", PNG), 404, "not_found")
    attachment = (await upload(client, buyer, f"order:{order.id}", PNG)).json()
    problem(await client.get(f"/attachments/{attachment['id']}", headers=stranger.headers), 404, "not_found")
    problem(await client.get(attachment["url"], headers=stranger.headers), 404, "not_found")
    problem(await client.get("/attachments/999999", headers=buyer.headers), 404, "not_found")
    assert (await client.get(attachment["url"])).status_code == 401


async def test_operator_reads_any_attachment_but_uploads_only_as_a_party(
    client, runtime, make_member, problem
):
    buyer, seller = await make_member(), await make_member()
    operator = await make_member(role="operator")
    order = await new_order(runtime, buyer, seller)
    attachment = (await upload(client, seller, f"order:{order.id}", PDF, "proof.pdf")).json()
    assert (
        await client.get(f"/attachments/{attachment['id']}", headers=operator.headers)
    ).json() == attachment
    content = await client.get(attachment["url"], headers=operator.headers)
    assert content.content == PDF
    problem(await upload(client, operator, f"order:{order.id}", PNG), 404, "not_found")


async def test_check_attachments_accepts_only_own_uploads_of_the_scope(client, runtime, make_member, problem):
    buyer, seller = await make_member(), await make_member()
    first, second = await new_order(runtime, buyer, seller), await new_order(runtime, buyer, seller)
    mine = (await upload(client, buyer, f"order:{first.id}", PNG)).json()
    other_order = (await upload(client, buyer, f"order:{second.id}", PNG)).json()
    sellers = (await upload(client, seller, f"order:{first.id}", PNG)).json()

    checked = await service.check_attachments(
        [mine["id"], mine["id"]], scope=f"order:{first.id}", member_id=buyer.id
    )
    assert [a.id for a in checked] == [mine["id"]]
    for ids in ([other_order["id"]], [sellers["id"]], [mine["id"], 999999]):
        with pytest.raises(ValidationFailed) as caught:
            await service.check_attachments(ids, scope=f"order:{first.id}", member_id=buyer.id)
        assert [e.field for e in caught.value.errors] == ["attachments"]
    found = await service.attachments_by_ids([sellers["id"], 999999, mine["id"]])
    assert [a.id for a in found] == [sellers["id"], mine["id"]]


async def test_file_is_deleted_when_its_row_is_not_saved(
    client, runtime, make_member, monkeypatch, files_dir
):
    buyer, seller = await make_member(), await make_member()
    order = await new_order(runtime, buyer, seller)

    async def failing_insert(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(service, "_insert_row", failing_insert)
    with pytest.raises(RuntimeError):
        await service.upload(
            runtime, member=buyer.member, scope=f"order:{order.id}", filename="a.png", data=PNG
        )
    assert stored_files(files_dir) == []
    assert await Attachment.count() == 0


class TestMemoryStorage:
    @pytest.fixture
    def memory(self):
        return MemoryStoragePlugin()

    @pytest.fixture
    def extra_plugins(self, memory):
        return [("testgig", GigPlugin()), ("memory-storage", memory)]

    @pytest.fixture
    def site_config(self, files_dir):
        return {"attachments": {"storage": "memory", "path": str(files_dir)}}

    async def test_hook_agorakit_storages(self, client, runtime, make_member, memory, files_dir):
        buyer, seller = await make_member(), await make_member()
        order = await new_order(runtime, buyer, seller)
        attachment = (await upload(client, buyer, f"order:{order.id}", PNG)).json()
        assert list(memory.storage.files.values()) == [PNG]
        assert memory.storage.bound_to is runtime
        assert stored_files(files_dir) == []
        row = await Attachment.select(Attachment.storage).where(Attachment.id == attachment["id"]).first()
        assert row["storage"] == "memory"
        assert (await client.get(attachment["url"], headers=seller.headers)).content == PNG


class TestUnknownStorage:
    @pytest.fixture
    def site_config(self):
        return {"attachments": {"storage": "s3"}}

    async def test_unknown_storage_stops_start_up(self, site_settings, plugin_manager):
        from agorakit.runtime import Runtime

        with pytest.raises(
            ConfigError, match=r"attachments.storage: no storage named 's3'; storages available: local"
        ):
            Runtime(site_settings, pm=plugin_manager)


async def test_local_storage_keys_cannot_leave_its_folder(tmp_path):
    storage = LocalStorage(tmp_path / "files")
    for key in ["../../etc/passwd", "/etc/passwd", "..", "a" * 8, "ABCDEF0123456789ABCDEF", ""]:
        with pytest.raises(ValueError, match="not a storage key"):
            storage.path_of(key)
    key = new_key()
    await storage.save(key, b"data")
    assert storage.path_of(key).is_relative_to(tmp_path / "files")
    assert await storage.read(key) == b"data"
    await storage.delete(key)
    await storage.delete(key)  # a missing file is fine
    with pytest.raises(FileNotFoundError):
        await storage.read(key)


def test_filenames_are_cleaned():
    clean = service.clean_filename
    assert clean("../../etc/passwd.png", "image/png") == "passwd.png"
    assert clean("C:\\Users\\me\\photo.JPG", "image/jpeg") == "photo.JPG"
    assert clean("invoice\u202egnp.exe", "application/pdf") == "invoicegnp.exe.pdf"
    assert clean("  .hidden  ", "text/plain") == "hidden.txt"
    assert clean(None, "image/gif") == "file.gif"
    assert clean("x" * 500 + ".png", "image/png") == "x" * 116 + ".png"
    assert clean("line\nbreak\x00.pdf", "application/pdf") == "linebreak.pdf"


async def test_proof_carries_the_sellers_uploads_for_the_order_only(client, runtime, make_member, problem):
    buyer, seller, stranger = await make_member(), await make_member(), await make_member()
    order = await new_order(runtime, buyer, seller)
    other = await new_order(runtime, buyer, seller)
    await fund_credit(runtime, buyer.id)
    await client.post(f"/orders/{order.id}/transitions/pay", headers=buyer.headers)
    mine = (await upload(client, seller, f"order:{order.id}", PDF, "delivery.pdf")).json()
    elsewhere = (await upload(client, seller, f"order:{other.id}", PDF, "other.pdf")).json()
    buyers = (await upload(client, buyer, f"order:{order.id}", PNG, "brief.png")).json()
    for wrong in (elsewhere["id"], buyers["id"], 999_999):
        refused = await client.post(
            f"/orders/{order.id}/proofs",
            json={"text": "done", "attachments": [wrong]},
            headers=seller.headers,
        )
        problem(refused, 422, "validation_error", fields={"attachments"})
    problem(
        await client.post(f"/orders/{order.id}/proofs", json={"attachments": ["x"]}, headers=seller.headers),
        422,
        "validation_error",
    )
    proof = await client.post(
        f"/orders/{order.id}/proofs",
        json={"text": "Final files", "attachments": [mine["id"], mine["id"]]},
        headers=seller.headers,
    )
    assert proof.status_code == 201, proof.text
    assert proof.json()["attachments"] == [mine["id"]]
    # The buyer (a party) downloads the delivery; a stranger cannot.
    content = await client.get(f"/attachments/{mine['id']}/content", headers=buyer.headers)
    assert content.status_code == 200 and content.content == PDF
    assert (
        await client.get(f"/attachments/{mine['id']}/content", headers=stranger.headers)
    ).status_code == 404
