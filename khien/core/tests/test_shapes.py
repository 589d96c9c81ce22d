"""One rule for the shape of a domain name, a host name, an e-mail address and a hash, in every app."""
import pytest

from khien.core import shapes


@pytest.mark.parametrize("value, domain, host", [
    ("example.gov.vn", True, True),
    ("_dmarc.example.com", True, True),  # service labels start with an underscore
    ("xn--80ak6aa92e.com", True, True),  # IDNA
    ("mail.xn--p1ai", True, True),
    ("a-b.example.org", True, True),
    ("10.0.0.256", False, True),  # a mistyped address is not a domain name
    ("example.123", False, True),  # a top-level label is never all digits
    ("example.c", False, True),  # nor a single character
    ("win-pc01", False, True),  # a bare host name, as alerts carry it
    ("-bad.example.com", False, False),
    ("bad-.example.com", False, False),
    ("exa mple.com", False, False),
    ("example..com", False, False),
    ("", False, False),
    ("a" * 64 + ".com", False, False),  # a label of more than 63 characters
    (("a" * 60 + ".") * 4 + "com", True, True),  # 247 characters
    (("a" * 62 + ".") * 4 + "com", False, False),  # 255: longer than a name may be
])
def test_domain_and_host_names(value, domain, host):
    assert shapes.is_domain_name(value) is domain
    assert shapes.is_host_name(value) is host


@pytest.mark.parametrize("value, expected", [
    ("soc@bocongan.gov.vn", True), ("a@b.vn", True), ("a@b", False), ("a b@c.vn", False), ("a@@b.vn", False),
])
def test_email_addresses(value, expected):
    assert shapes.is_email_address(value) is expected


def test_hashes_by_kind_and_by_length():
    md5, sha1, sha256 = "d41d8cd98f00b204e9800998ecf8427e", "a" * 40, "0" * 64
    assert [shapes.hash_kind(v) for v in (md5, sha1, sha256)] == ["md5", "sha1", "sha256"]
    assert shapes.hash_kind("g" * 32) is None and shapes.hash_kind("a" * 33) is None
    assert shapes.is_hash("md5", md5) and not shapes.is_hash("sha1", md5)
