"""Signed links: HMAC links served by the web app, and CloudFront canned-policy URLs."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from core.errors import StorageError
from core.links import CloudFrontLinks, LinkSigner, LinkState

SECRET = b"test-secret-0123456789abcdef"
NOW = 1_800_000_000


def _query(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return parts.path, query["exp"][0], query["sig"][0]


def test_url_shape_and_verify() -> None:
    signer = LinkSigner(SECRET, "https://swapzy.example/")
    url = signer.url("clips/ab12/out.gif", NOW + 60)
    assert url.startswith("https://swapzy.example/m/clips/ab12/out.gif?exp=1800000060&sig=")
    path, exp, sig = _query(url)
    assert path == "/m/clips/ab12/out.gif"
    assert len(sig) == 43 and "=" not in sig and "+" not in sig and "/" not in sig
    assert signer.verify("clips/ab12/out.gif", exp, sig, now=NOW)
    assert signer.check("clips/ab12/out.gif", exp, sig, now=NOW) is LinkState.VALID


def test_expired() -> None:
    signer = LinkSigner(SECRET, "http://x")
    _, exp, sig = _query(signer.url("a/b.gif", NOW))
    assert signer.check("a/b.gif", exp, sig, now=NOW - 1) is LinkState.VALID
    assert signer.check("a/b.gif", exp, sig, now=NOW) is LinkState.EXPIRED
    assert not signer.verify("a/b.gif", exp, sig, now=NOW + 3600)


def test_tampered_signature() -> None:
    signer = LinkSigner(SECRET, "http://x")
    _, exp, sig = _query(signer.url("a/b.gif", NOW + 60))
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    for bad in (flipped, sig[:-1], sig + "A", sig + "=", "", "é" * 43):
        assert signer.check("a/b.gif", exp, bad, now=NOW) is LinkState.INVALID, bad
    # Another secret signs differently.
    other = LinkSigner(b"another-secret", "http://x")
    assert not other.verify("a/b.gif", exp, sig, now=NOW)


def test_tampered_key() -> None:
    signer = LinkSigner(SECRET, "http://x")
    _, exp, sig = _query(signer.url("a/b", NOW + 60))
    for other_key in ("a/c", "a/b/", "a", "a/b.gif", "A/b", "a//b"):
        assert not signer.verify(other_key, exp, sig, now=NOW), other_key


def test_tampered_expiry() -> None:
    signer = LinkSigner(SECRET, "http://x")
    _, exp, sig = _query(signer.url("a/b", NOW + 60))
    for bad in (str(int(exp) + 3600), "0" + exp, exp + " ", "-1", "1e12", "", "9" * 20):
        assert signer.check("a/b", bad, sig, now=NOW) is LinkState.INVALID, bad
    # An expired but genuine link stays "expired"; a forged expiry is "invalid", not "expired".
    assert signer.check("a/b", str(NOW - 10), sig, now=NOW) is LinkState.INVALID


def test_missing_params() -> None:
    signer = LinkSigner(SECRET, "http://x")
    assert signer.check("a", None, None, now=NOW) is LinkState.INVALID
    assert signer.check("a", str(NOW + 5), None, now=NOW) is LinkState.INVALID


def test_repr_hides_secret() -> None:
    assert "test-secret" not in repr(LinkSigner(SECRET, "http://x"))
    with pytest.raises(ValueError):
        LinkSigner(b"", "http://x")


# --- CloudFront ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cf_b64decode(text: str) -> bytes:
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def test_cloudfront_signed_url_verifies_with_public_key(rsa_key: rsa.RSAPrivateKey) -> None:
    links = CloudFrontLinks("d111111abcdef8.cloudfront.net", "K2JCJMDEHXQW5F", _pem(rsa_key))
    url = links.url("media/clips/x1/out.mp4", NOW + 300)

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "d111111abcdef8.cloudfront.net")
    assert parts.path == "/media/clips/x1/out.mp4"
    query = parse_qs(parts.query)
    assert list(query) == ["Expires", "Signature", "Key-Pair-Id"]
    assert query["Expires"] == [str(NOW + 300)]
    assert query["Key-Pair-Id"] == ["K2JCJMDEHXQW5F"]
    signature_text = query["Signature"][0]
    assert not set(signature_text) & set("+=/")

    resource = url.split("?", 1)[0]
    policy = json.dumps(
        {
            "Statement": [
                {"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": NOW + 300}}}
            ]
        },
        separators=(",", ":"),
    ).encode()
    signature = _cf_b64decode(signature_text)
    rsa_key.public_key().verify(signature, policy, padding.PKCS1v15(), hashes.SHA1())

    # The same signature does not cover another object or another expiry.
    other = policy.replace(b"out.mp4", b"other.mp4")
    with pytest.raises(InvalidSignature):
        rsa_key.public_key().verify(signature, other, padding.PKCS1v15(), hashes.SHA1())
    later = policy.replace(str(NOW + 300).encode(), str(NOW + 301).encode())
    with pytest.raises(InvalidSignature):
        rsa_key.public_key().verify(signature, later, padding.PKCS1v15(), hashes.SHA1())


def test_cloudfront_refuses_bad_keys() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(StorageError, match="RSA"):
        CloudFrontLinks("d1.cloudfront.net", "K1", ec_pem)
    with pytest.raises(StorageError, match="could not be read"):
        CloudFrontLinks("d1.cloudfront.net", "K1", b"not a pem")
    with pytest.raises(StorageError):
        CloudFrontLinks("", "K1", b"")
