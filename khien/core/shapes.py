"""The shapes of the values people and tools send — domain and host names, e-mail addresses, file hashes.

One rule each for every app: intelligence indicators, incident observables, alerts from SOCs and the domains
of information systems. Values are given lower case, without a trailing dot (the callers normalize them).
"""
import re
from urllib.parse import urlsplit

HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64}  # hexadecimal digits, by hash kind

_HEX_DIGITS = re.compile(r"[0-9a-f]+")
_EMAIL_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# A DNS label: letters, digits, underscores (_dmarc, _sip._tcp) and inner hyphens, at most 63 characters.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
# A domain name: two labels or more, the top-level one starting with a letter and at least two characters
# long (RFC 3696 §2: never all digits, so 10.0.0.256 is a mistyped address, not a name).
_DOMAIN_NAME = re.compile(rf"(?=.{{1,253}}$)(?:{_LABEL}\.)+[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])")
# A host name as alerts carry it: also a single label and numeric labels (WIN-PC01, a query for a bare name).
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$)(?:{_LABEL}\.)*{_LABEL}")


def is_domain_name(value: str) -> bool:
    """`value` is a fully qualified domain name (example.gov.vn, xn--p1ai.example.com)."""
    return _DOMAIN_NAME.fullmatch(value) is not None


def is_host_name(value: str) -> bool:
    """`value` is a name a DNS query or an alert may carry: a domain name, or a single label such as a host's."""
    return _HOST_NAME.fullmatch(value) is not None


# The defanged forms warnings and reports write so that nobody clicks a value by mistake, and the real text.
_DEFANGED = ((re.compile(r"^hxxp(s?)(\[:\]|:)//", re.IGNORECASE), r"http\1://"),
             (re.compile(r"\[:\]//"), "://"),
             (re.compile(r"\[\.\]|\(\.\)"), "."),
             (re.compile(r"\[at\]", re.IGNORECASE), "@"))
# A URL as an indicator names it: a scheme (RFC 3986), "://", a host; no white space.
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S+")


def refang(value: str) -> str:
    """The real value of a defanged one (hxxp:// and hxxps://, [.], (.), [:]//, [at]); other values unchanged,
    stripped. The one rule for every app that reads values people paste from warnings and reports."""
    value = (value or "").strip()
    for pattern, real in _DEFANGED:
        value = pattern.sub(real, value)
    return value


def url_value(value: str) -> str | None:
    """The URL a typed or imported value stands for (refanged: hxxp://evil[.]top/a is http://evil.top/a), or None
    when it is not a URL with a scheme and a host. The one rule of the indicator forms and the CSV import."""
    value = refang(value)
    if not _URL.fullmatch(value):
        return None
    try:
        host = urlsplit(value).hostname
    except ValueError:  # an invalid port or IPv6 literal
        return None
    return value if host else None


def is_email_address(value: str) -> bool:
    """`value` looks like an e-mail address: one @, no spaces, a dot in the domain."""
    return _EMAIL_ADDRESS.fullmatch(value) is not None


def is_hash(kind: str, value: str) -> bool:
    """`value` (lower case) is a hash of that kind (md5, sha1, sha256): that many hexadecimal digits."""
    return len(value) == HASH_LENGTHS[kind] and _HEX_DIGITS.fullmatch(value) is not None


def hash_kind(value: str) -> str | None:
    """The kind of hash `value` (lower case) is by its length and digits, or None."""
    for kind, length in HASH_LENGTHS.items():
        if len(value) == length:
            return kind if _HEX_DIGITS.fullmatch(value) else None
    return None
