"""Signed, expiring links to stored media.

``LinkSigner``: HMAC-SHA256 links served by the web app (``/m/{key}?exp=...&sig=...``), the
default on one machine. ``CloudFrontLinks``: CloudFront canned-policy signed URLs (production).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
from datetime import UTC, datetime
from urllib.parse import quote

from core.errors import StorageError

# Domain separation: a signature made for something else with the same secret never verifies.
_CONTEXT = b"swapzy-media-link-v1\x00"
_EXP_RE = re.compile(r"[0-9]{1,12}")
_SIG_LEN = 43  # urlsafe base64 of 32 bytes, no padding


class LinkState(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"  # tampered, malformed, signed with another secret or for another key


class LinkSigner:
    """HMAC-SHA256 over the exact key and expiry (Unix seconds); urlsafe base64, no padding."""

    def __init__(self, secret: bytes, base_url: str) -> None:
        if not secret:
            raise ValueError("the link secret must not be empty")
        self._secret = secret
        self.base_url = base_url.rstrip("/")

    def __repr__(self) -> str:  # never show the secret
        return f"LinkSigner(base_url={self.base_url!r})"

    def sign(self, key: str, expires_at: int) -> str:
        message = _CONTEXT + key.encode("utf-8") + b"\x00" + str(int(expires_at)).encode("ascii")
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def url(self, key: str, expires_at: int) -> str:
        """``{base_url}/m/{key}?exp=...&sig=...``; the key is percent-encoded where needed."""
        expires_at = int(expires_at)
        return (
            f"{self.base_url}/m/{quote(key, safe='/')}"
            f"?exp={expires_at}&sig={self.sign(key, expires_at)}"
        )

    def check(self, key: str, exp: str | None, sig: str | None, now: float) -> LinkState:
        """Whether a link's ``exp``/``sig`` are valid for ``key`` (the decoded path) at ``now``.

        A bad signature is ``INVALID`` even when its expiry has passed; ``EXPIRED`` means the
        link was genuine.
        """
        if not exp or not sig or not _EXP_RE.fullmatch(exp):
            return LinkState.INVALID
        if len(sig) != _SIG_LEN or not sig.isascii():
            return LinkState.INVALID
        # The string form is compared, so "0123" is not "123" and base64 has one spelling.
        expected = self.sign(key, int(exp))
        if exp != str(int(exp)) or not hmac.compare_digest(expected.encode(), sig.encode()):
            return LinkState.INVALID
        if now >= int(exp):
            return LinkState.EXPIRED
        return LinkState.VALID

    def verify(self, key: str, exp: str, sig: str, now: float) -> bool:
        return self.check(key, exp, sig, now) is LinkState.VALID


class CloudFrontLinks:
    """Canned-policy CloudFront signed URLs (RSA PKCS#1 v1.5 over SHA-1, as CloudFront needs)."""

    def __init__(self, domain: str, key_pair_id: str, private_key_pem: bytes) -> None:
        from botocore.signers import CloudFrontSigner
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        domain = domain.strip().removeprefix("https://").rstrip("/")
        if not domain or "/" in domain or not key_pair_id:
            raise StorageError("CloudFront links need a domain name and a key pair id")
        try:
            private_key = serialization.load_pem_private_key(private_key_pem, password=None)
        except (ValueError, TypeError) as exc:
            raise StorageError(
                "the CloudFront private key could not be read (an unencrypted PEM is needed)"
            ) from exc
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise StorageError("the CloudFront private key must be an RSA key")

        def rsa_signer(message: bytes) -> bytes:
            return private_key.sign(message, padding.PKCS1v15(), hashes.SHA1())

        self.domain = domain
        self.key_pair_id = key_pair_id
        self._signer = CloudFrontSigner(key_pair_id, rsa_signer)

    def __repr__(self) -> str:
        return f"CloudFrontLinks(domain={self.domain!r}, key_pair_id={self.key_pair_id!r})"

    def url(self, key: str, expires_at: int) -> str:
        """``https://{domain}/{key}?Expires=..&Signature=..&Key-Pair-Id=..``."""
        resource = f"https://{self.domain}/{quote(key, safe='/')}"
        when = datetime.fromtimestamp(int(expires_at), tz=UTC)
        signed: str = self._signer.generate_presigned_url(resource, date_less_than=when)
        return signed
