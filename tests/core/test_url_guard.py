"""``core.url_guard``: a user's URL is refused unless https, allowlisted, and resolving only to
public addresses (real DNS of names this machine knows: localhost, and IP literals)."""

from __future__ import annotations

import pytest

from core.url_guard import UrlRefused, check_url, public_address
from tests.media_files import assert_user_message

ALLOWED = (
    "media.giphy.example",
    ".tenor.example",
    "localhost",
    "127.0.0.1",
    "169.254.169.254",
    "10.1.2.3",
    "::1",
    "fd00::1",
    "::ffff:127.0.0.1",
    "93.184.216.34",
    "0.0.0.0",
)
PRIVATE = ("127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
           "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1")  # fmt: skip


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://media.giphy.example/a.gif", "Only https links can be used."),
        ("file:///etc/passwd", "Only https links can be used."),
        ("https://user:pw@media.giphy.example/a.gif", "Links with a user name or password"),
        ("https://evil.example/a.gif", "Links to evil.example cannot be used; send the file"),
        ("https://tenor.example.evil.example/a.gif", "Links to tenor.example.evil.example"),
        ("https://localhost/a.gif", "it points inside a private network"),
        ("https://127.0.0.1:8443/a.gif", "it points inside a private network"),
        ("https://169.254.169.254/latest/meta-data/", "it points inside a private network"),
        ("https://10.1.2.3/a.gif", "it points inside a private network"),
        ("https://[::1]/a.gif", "it points inside a private network"),
        ("https://[fd00::1]/a.gif", "it points inside a private network"),
        ("https://[::ffff:127.0.0.1]/a.gif", "it points inside a private network"),
        ("https://0.0.0.0/a.gif", "it points inside a private network"),
        ("https://nowhere.invalid.tenor.example/a.gif", "cannot be found"),
    ],
)
def test_refused(url: str, why: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        check_url(url, ALLOWED)
    assert why in refused.value.message
    assert_user_message(refused.value.message)


def test_an_allowlisted_public_address_is_pinned() -> None:
    checked = check_url("https://93.184.216.34:8443/a.gif", ALLOWED)
    assert (checked.host, checked.port) == ("93.184.216.34", 8443)
    assert checked.addresses == ("93.184.216.34",)


def test_public_addresses() -> None:
    assert public_address("93.184.216.34") and public_address("2606:4700::1111")
    for private in PRIVATE:
        assert not public_address(private), private
