"""Storage: the local folder and S3 (a real moto server), keys, errors and links."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from core.config import Settings, StorageSettings
from core.errors import InvalidKey, ObjectNotFound, StorageError
from core.links import LinkSigner
from core.storage import LocalStorage, S3Storage, build_storage, make_s3_client, validate_key
from tests import fixtures_moto

GOOD_KEYS = ["a", "clips/ab-12/out.gif", "x/y/z.tar.gz", "_/-/.hidden", "a" * 500]
BAD_KEYS = [
    "../x", "/abs", "a//b", "a/../b", "a/./b", "with space", "a/", "", ".", "..", "a\\b",
    "a\nb", "é.gif", "a?b", "a#b", "a%2e", "a" * 501, "x/" + "y" * 499,
]  # fmt: skip


@pytest.fixture
def local(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media", LinkSigner(b"s3cret", "http://swapzy.test"))


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_valid_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_refused_everywhere(local: LocalStorage, key: str) -> None:
    with pytest.raises(InvalidKey):
        validate_key(key)
    for call in (
        lambda: local.put_bytes(key, b"x", "image/gif"),
        lambda: local.get_bytes(key),
        lambda: local.exists(key),
        lambda: local.size(key),
        lambda: local.delete(key),
        lambda: local.url(key),
    ):
        with pytest.raises(InvalidKey):
            call()
    assert not (local.root.parent / "x").exists()


def test_local_put_get_overwrite_delete(local: LocalStorage, tmp_path: Path) -> None:
    key = "clips/j1/out.gif"
    assert not local.exists(key)
    local.put_bytes(key, b"GIF89a-first", "image/gif")
    assert local.exists(key)
    assert local.get_bytes(key) == b"GIF89a-first"
    assert local.size(key) == 12
    assert local.path(key) == local.root / "clips" / "j1" / "out.gif"

    local.put_bytes(key, b"second", "image/gif")  # a re-run overwrites
    assert local.get_bytes(key) == b"second"

    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    local.put_file(key, src, "image/gif")
    assert local.get_bytes(key) == src.read_bytes()
    dest = tmp_path / "out" / "copy.gif"
    local.download(key, dest)
    assert dest.read_bytes() == src.read_bytes()
    # No temp files are left behind in either folder.
    assert sorted(p.name for p in local.path(key).parent.iterdir()) == ["out.gif"]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["copy.gif"]

    local.delete(key)
    assert not local.exists(key)
    local.delete(key)  # missing: no error
    local.delete("clips")  # a folder is no object: no error, nothing removed
    assert (local.root / "clips").is_dir()


def test_local_missing_objects(local: LocalStorage, tmp_path: Path) -> None:
    local.put_bytes("a/b.gif", b"x", "image/gif")
    for key in ("nope.gif", "a", "a/b.gif/c"):
        with pytest.raises(ObjectNotFound):
            local.get_bytes(key)
        with pytest.raises(ObjectNotFound):
            local.size(key)
        with pytest.raises(ObjectNotFound):
            local.download(key, tmp_path / "d.gif")
        assert not local.exists(key)
    assert not (tmp_path / "d.gif").exists()


def test_local_write_failure_is_storage_error(local: LocalStorage) -> None:
    local.put_bytes("a", b"file, not a folder", "text/plain")
    with pytest.raises(StorageError) as info:
        local.put_bytes("a/b", b"x", "text/plain")
    assert not isinstance(info.value, ObjectNotFound)


def test_local_readers_never_see_half_a_file(local: LocalStorage) -> None:
    key = "race/out.gif"
    big_a, big_b = b"A" * (2 * 1024 * 1024), b"B" * (3 * 1024 * 1024)
    local.put_bytes(key, big_a, "image/gif")
    stop = threading.Event()
    seen: set[bytes] = set()

    def reader() -> None:
        while not stop.is_set():
            data = local.get_bytes(key)
            seen.add(data[:1] + str(len(data)).encode())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(20):
            local.put_bytes(key, big_b if i % 2 == 0 else big_a, "image/gif")
    finally:
        stop.set()
        thread.join(30)
    assert seen <= {b"A" + str(len(big_a)).encode(), b"B" + str(len(big_b)).encode()}


def test_local_url_is_a_signed_link(local: LocalStorage) -> None:
    url = local.url("clips/j1/out.gif", expires_s=60)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "http://swapzy.test/m/clips/j1/out.gif"
    query = parse_qs(parts.query)
    assert local.links.verify("clips/j1/out.gif", query["exp"][0], query["sig"][0], now=0)


def test_build_storage_local(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, public_url="https://swapzy.example")
    storage = build_storage(settings)
    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "media").absolute()
    assert storage.url("k.gif").startswith("https://swapzy.example/m/k.gif?exp=")


# --- S3 against a real moto server ----------------------------------------------------------


@pytest.fixture
def s3(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Storage]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = make_s3_client("us-east-1", moto_server)
    bucket = f"swapzy-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    yield S3Storage(client, bucket, prefix="media/")


def test_s3_put_get_exists_delete(s3: S3Storage, tmp_path: Path) -> None:
    key = "clips/j1/out.gif"
    assert not s3.exists(key)
    s3.put_bytes(key, b"GIF89a-bytes", "image/gif")
    assert s3.exists(key)
    assert s3.size(key) == 12
    assert s3.get_bytes(key) == b"GIF89a-bytes"
    assert s3.object_key(key) == "media/clips/j1/out.gif"

    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(2 * 1024 * 1024 + 3))
    s3.put_file(key, src, "image/gif")  # overwrite
    dest = tmp_path / "dl" / "out.gif"
    s3.download(key, dest)
    assert dest.read_bytes() == src.read_bytes()

    s3.delete(key)
    assert not s3.exists(key)
    s3.delete(key)  # missing: no error


def test_s3_missing_object(s3: S3Storage, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound):
        s3.get_bytes("nope.gif")
    with pytest.raises(ObjectNotFound):
        s3.size("nope.gif")
    with pytest.raises(ObjectNotFound):
        s3.download("nope.gif", tmp_path / "x.gif")
    assert not (tmp_path / "x.gif").exists()
    with pytest.raises(InvalidKey):
        s3.get_bytes("../etc/passwd")


def test_s3_presigned_url_fetches_the_bytes(s3: S3Storage) -> None:
    s3.put_bytes("clips/j2/out.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4")
    url = s3.url("clips/j2/out.mp4", expires_s=120)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=120" in url  # SigV4
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == b"\x00\x00\x00\x18ftypmp42"
    assert response.headers["content-type"] == "video/mp4"
    # (moto does not check presigned signatures unless its IAM mode is on, so a forged URL
    # is not tested here: that is S3's job.)


def test_s3_missing_bucket_is_storage_error(s3: S3Storage) -> None:
    other = S3Storage(s3._client, f"no-such-bucket-{uuid.uuid4().hex[:8]}")
    with pytest.raises(StorageError) as info:
        other.put_bytes("a.gif", b"x", "image/gif")
    assert not isinstance(info.value, ObjectNotFound)


def test_s3_unreachable_endpoint_is_storage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-that-must-not-leak")
    endpoint = f"http://127.0.0.1:{fixtures_moto.free_port()}"  # nothing listens there
    client = make_s3_client("us-east-1", endpoint, connect_timeout=1, attempts=1)
    storage = S3Storage(client, "bucket")
    for call in (
        lambda: storage.put_bytes("a.gif", b"x", "image/gif"),
        lambda: storage.get_bytes("a.gif"),
        lambda: storage.exists("a.gif"),
        lambda: storage.delete("a.gif"),
    ):
        with pytest.raises(StorageError) as info:
            call()
        assert type(info.value) is StorageError
        assert "secret-that-must-not-leak" not in info.value.message
        assert "a.gif" in info.value.message


def test_build_storage_s3_against_moto(
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bucket = f"swapzy-build-{uuid.uuid4().hex[:12]}"
    make_s3_client("us-east-1", moto_server).create_bucket(Bucket=bucket)
    conf = StorageSettings(backend="s3", s3_bucket=bucket, s3_endpoint_url=moto_server)
    storage = build_storage(Settings(data_dir=tmp_path, storage=conf))
    assert isinstance(storage, S3Storage)
    storage.put_bytes("k.gif", b"GIF89a", "image/gif")
    assert httpx.get(storage.url("k.gif")).content == b"GIF89a"

    with pytest.raises(StorageError, match="S3_BUCKET"):
        build_storage(Settings(data_dir=tmp_path, storage=StorageSettings(backend="s3")))
    with pytest.raises(StorageError, match="KEY_PAIR_ID"):
        build_storage(
            Settings(
                data_dir=tmp_path,
                storage=conf.model_copy(update={"cloudfront_domain": "d1.cloudfront.net"}),
            )
        )


def test_build_storage_s3_with_cloudfront_links(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    key_path = tmp_path / "cf.pem"
    key_path.write_bytes(pem)
    conf = StorageSettings(
        backend="s3",
        s3_bucket="media-bucket",
        s3_prefix="prod",
        cloudfront_domain="d111111abcdef8.cloudfront.net",
        cloudfront_key_pair_id="K2JCJMDEHXQW5F",
        cloudfront_private_key_path=key_path,
        link_ttl_s=600,
    )
    storage = build_storage(Settings(data_dir=tmp_path, storage=conf))
    url = storage.url("clips/j1/out.mp4")  # signing needs no network
    assert url.startswith("https://d111111abcdef8.cloudfront.net/prod/clips/j1/out.mp4?Expires=")
    assert "&Signature=" in url and url.endswith("&Key-Pair-Id=K2JCJMDEHXQW5F")

    missing = conf.model_copy(update={"cloudfront_private_key_path": tmp_path / "nope.pem"})
    with pytest.raises(StorageError, match="CloudFront private key file"):
        build_storage(Settings(data_dir=tmp_path, storage=missing))
