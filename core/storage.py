"""Media storage: a local folder (default) or an S3 bucket, plus signed links to what is stored.

The API is synchronous; async callers wrap it in ``asyncio.to_thread``. Keys are relative,
``/``-separated paths of ``[A-Za-z0-9._-]`` segments (``validate_key``). Missing objects raise
``ObjectNotFound``; backend or network failures raise ``StorageError`` with a message fit for logs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NoReturn, Protocol, TypeVar

from core.errors import InvalidKey, ObjectNotFound, StorageError
from core.links import CloudFrontLinks, LinkSigner

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from core.config import Settings

T = TypeVar("T")

MAX_KEY_LENGTH = 500
DEFAULT_LINK_TTL_S = 7 * 24 * 3600
S3_MAX_PRESIGN_S = 7 * 24 * 3600  # SigV4 presigned URLs cannot last longer
_KEY_RE = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")
# "~" cannot appear in a key, so a half-written temp file is never reachable through one.
_TMP_PREFIX = ".tmp~"
_CHUNK = 1024 * 1024


def validate_key(key: object) -> str:
    """Return ``key`` if it is a safe storage key, else raise ``InvalidKey``."""
    if (
        not isinstance(key, str)
        or len(key) > MAX_KEY_LENGTH
        or not _KEY_RE.fullmatch(key)
        or any(part in {".", ".."} for part in key.split("/"))
    ):
        shown = repr(key)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise InvalidKey(f"invalid storage key {shown}")
    return key


class Storage(Protocol):
    """Where media objects live. Writes replace whole objects; readers never see half of one."""

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...
    def put_file(self, key: str, path: Path, content_type: str) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def download(self, key: str, path: Path) -> None: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def delete(self, key: str) -> None: ...  # a missing key is not an error
    def url(self, key: str, expires_s: int | None = None) -> str: ...


def _atomic_write(dest: Path, fill: Callable[[BinaryIO], object]) -> None:
    """Write ``dest`` through a temp file in its folder, then ``os.replace`` it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=_TMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."


class LocalStorage:
    """Objects are files under ``root``; links are HMAC-signed URLs served by ``web.media``."""

    def __init__(
        self, root: Path, links: LinkSigner, *, default_ttl_s: int = DEFAULT_LINK_TTL_S
    ) -> None:
        self.root = Path(root).absolute()
        self.links = links
        self.default_ttl_s = default_ttl_s

    def __repr__(self) -> str:
        return f"LocalStorage(root={str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The file that holds ``key`` (it may not exist)."""
        return self.root / validate_key(key)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._write(key, lambda out: out.write(data))

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        with Path(path).open("rb") as src:  # a missing source is the caller's bug: not wrapped
            self._write(key, lambda out: shutil.copyfileobj(src, out, _CHUNK))

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        dest = self.path(key)
        try:
            _atomic_write(dest, fill)
        except OSError as exc:
            raise StorageError(f"could not store {key!r}: {_describe(exc)}") from exc

    def get_bytes(self, key: str) -> bytes:
        path = self.path(key)
        try:
            return path.read_bytes()
        except OSError as exc:
            self._raise(key, exc)

    def download(self, key: str, path: Path) -> None:
        src_path = self.path(key)
        try:
            with src_path.open("rb") as src:
                _atomic_write(Path(path), lambda out: shutil.copyfileobj(src, out, _CHUNK))
        except OSError as exc:
            self._raise(key, exc)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        path = self.path(key)
        if path.is_dir():
            raise ObjectNotFound(f"no stored object {key!r}")
        try:
            return path.stat().st_size
        except OSError as exc:
            self._raise(key, exc)

    def delete(self, key: str) -> None:
        path = self.path(key)
        if path.is_dir():
            return  # a folder is no object
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"could not delete {key!r}: {_describe(exc)}") from exc

    def url(self, key: str, expires_s: int | None = None) -> str:
        ttl = self.default_ttl_s if expires_s is None else expires_s
        return self.links.url(validate_key(key), int(time.time()) + ttl)

    @staticmethod
    def _raise(key: str, exc: OSError) -> NoReturn:
        if isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError):
            raise ObjectNotFound(f"no stored object {key!r}") from exc
        raise StorageError(f"could not read {key!r}: {_describe(exc)}") from exc


class S3Storage:
    """Objects in an S3 bucket under ``prefix``; links are S3 presigned GET URLs (SigV4) or,
    with ``links``, CloudFront signed URLs (the distribution's origin is the bucket root)."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        links: CloudFrontLinks | None = None,
        *,
        default_ttl_s: int = DEFAULT_LINK_TTL_S,
    ) -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = validate_key(prefix.strip("/")) if prefix.strip("/") else ""
        self.links = links
        self.default_ttl_s = default_ttl_s

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def object_key(self, key: str) -> str:
        key = validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._put(key, data, content_type)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        with Path(path).open("rb") as src:  # a missing source is the caller's bug: not wrapped
            self._put(key, src, content_type)

    def _put(self, key: str, body: bytes | BinaryIO, content_type: str) -> None:
        name = self.object_key(key)
        self._call(
            "upload",
            key,
            lambda: self._client.put_object(
                Bucket=self.bucket, Key=name, Body=body, ContentType=content_type
            ),
        )

    def get_bytes(self, key: str) -> bytes:
        name = self.object_key(key)

        def read() -> bytes:
            body = self._client.get_object(Bucket=self.bucket, Key=name)["Body"]
            with contextlib.closing(body):
                return body.read()

        return self._call("download", key, read)

    def download(self, key: str, path: Path) -> None:
        name = self.object_key(key)

        def fetch() -> None:
            body = self._client.get_object(Bucket=self.bucket, Key=name)["Body"]
            with contextlib.closing(body):

                def fill(out: BinaryIO) -> None:
                    for chunk in body.iter_chunks(_CHUNK):
                        out.write(chunk)

                _atomic_write(Path(path), fill)

        self._call("download", key, fetch)

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectNotFound:
            return False
        return True

    def size(self, key: str) -> int:
        name = self.object_key(key)
        head = self._call(
            "stat", key, lambda: self._client.head_object(Bucket=self.bucket, Key=name)
        )
        return head["ContentLength"]

    def delete(self, key: str) -> None:
        name = self.object_key(key)
        self._call("delete", key, lambda: self._client.delete_object(Bucket=self.bucket, Key=name))

    def url(self, key: str, expires_s: int | None = None) -> str:
        name = self.object_key(key)
        ttl = self.default_ttl_s if expires_s is None else expires_s
        if self.links is not None:
            return self.links.url(name, int(time.time()) + ttl)
        return self._call(
            "presign",
            key,
            lambda: self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": name},
                ExpiresIn=max(1, min(ttl, S3_MAX_PRESIGN_S)),
            ),
        )

    def _call(self, action: str, key: str, fn: Callable[[], T]) -> T:
        """Run one S3 call; botocore's errors become ``ObjectNotFound`` / ``StorageError``."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise ObjectNotFound(f"no stored object {key!r}") from exc
            failure: Exception = exc
        except (BotoCoreError, OSError) as exc:
            failure = exc
        raise StorageError(
            f"S3 {action} of {key!r} in bucket {self.bucket!r} failed: {_describe(failure)}"
        ) from failure


def build_storage(settings: Settings) -> Storage:
    """The storage the settings name: a local folder, or S3 (+ CloudFront links if set)."""
    conf = settings.storage
    if conf.backend == "local":
        signer = LinkSigner(conf.link_secret.get_secret_value().encode(), settings.public_url)
        return LocalStorage(settings.media_dir, signer, default_ttl_s=conf.link_ttl_s)
    if not conf.s3_bucket:
        raise StorageError("the s3 storage backend needs SWAPZY_STORAGE__S3_BUCKET")
    links = None
    if conf.cloudfront_domain:
        if not conf.cloudfront_key_pair_id or conf.cloudfront_private_key_path is None:
            raise StorageError(
                "CloudFront links need SWAPZY_STORAGE__CLOUDFRONT_KEY_PAIR_ID and "
                "SWAPZY_STORAGE__CLOUDFRONT_PRIVATE_KEY_PATH"
            )
        try:
            pem = conf.cloudfront_private_key_path.read_bytes()
        except OSError as exc:
            raise StorageError(
                f"could not read the CloudFront private key file "
                f"{str(conf.cloudfront_private_key_path)!r}: {type(exc).__name__}"
            ) from exc
        links = CloudFrontLinks(conf.cloudfront_domain, conf.cloudfront_key_pair_id, pem)
    return S3Storage(
        make_s3_client(conf.s3_region, conf.s3_endpoint_url),
        conf.s3_bucket,
        conf.s3_prefix,
        links,
        default_ttl_s=conf.link_ttl_s,
    )


def make_s3_client(
    region: str, endpoint_url: str | None = None, *, connect_timeout: float = 5, attempts: int = 3
) -> S3Client:
    """An S3 client that presigns with SigV4; path-style addressing on a custom endpoint."""
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        connect_timeout=connect_timeout,
        read_timeout=30,
        retries={"max_attempts": attempts, "mode": "standard"},
        s3={"addressing_style": "path"} if endpoint_url else {},
    )
    return boto3.session.Session().client(
        "s3", region_name=region, endpoint_url=endpoint_url, config=config
    )
