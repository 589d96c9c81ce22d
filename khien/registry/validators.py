"""Validation of the lists a system carries (IP ranges, domains, CPE names).

Used as model-field validators, so forms, the API and imports share them.
"""
import functools
import ipaddress
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from publicsuffixlist import PublicSuffixList

from khien.core import shapes

# CPE 2.3 formatted string: cpe:2.3:part:vendor:product:version:… (13 fields).
_CPE23_RE = re.compile(r"^cpe:2\.3:[aho\*\-](:(\\.|[^:\\])+){10}$")


def _require_list(value):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(_("Expected a list of text values."))


# The widest public range a system may declare, by IP version. Declared ranges decide who an early warning about an
# address reaches (intel's automatic matching): a system declaring 0.0.0.0/0 would receive every organization's.
# Private ranges (10.0.0.0/8 …) are not limited: every organization may use them, and no warning is about them.
WIDEST_PREFIX = {4: 16, 6: 32}


def validate_ip_ranges(value):
    _require_list(value)
    for item in value:
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValidationError(_("“%(v)s” is not an IP address or CIDR range.") % {"v": item})
        if network.prefixlen < WIDEST_PREFIX[network.version] and not network.is_private:
            raise ValidationError(_("“%(v)s” is wider than a /%(n)d: declare the ranges the system itself uses.")
                                  % {"v": item, "n": WIDEST_PREFIX[network.version]})


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list the package carries: no network access


def validate_domains(value):
    _require_list(value)
    for item in value:
        domain = item.lower().rstrip(".")
        if not shapes.is_domain_name(domain):
            raise ValidationError(_("“%(v)s” is not a domain name.") % {"v": item})
        # A public suffix (gov.vn, com.vn) is shared by many owners: declaring it would make every warning about
        # any of their domains reach this system's organization.
        if _public_suffixes().is_public(domain):
            raise ValidationError(_("“%(v)s” is a public suffix shared by many owners, not a domain of the system.")
                                  % {"v": item})


def validate_cpes(value):
    _require_list(value)
    for item in value:
        if not _CPE23_RE.match(item):
            raise ValidationError(_("“%(v)s” is not a CPE 2.3 name (cpe:2.3:part:vendor:product:version:…).") % {"v": item})


def normalize_ip_ranges(values):
    return [str(ipaddress.ip_network(v.strip(), strict=False)) for v in values if v.strip()]


def domain_of(value: str) -> str:
    """The host of a domain as people paste it: "https://Tantien.example.gov.vn:8443/path?x=1" → its host name, in
    lower case, without scheme, user, port, path or trailing dot. What is left is then validated (`validate_domains`)."""
    host = value.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = re.split(r"[/?#]", host, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1]
    host = re.sub(r":\d*$", "", host)
    return host.lower().rstrip(".")


def normalize_domains(values):
    """The one cleaning of a system's domains (form, API, import): each value's host (`domain_of`), sorted."""
    # A value with no host left ("https://") is kept as typed, for the validator to name it.
    return sorted({domain_of(v) or v.strip() for v in values if v.strip()})


def split_list(text: str) -> list[str]:
    """A list typed in a textarea or a spreadsheet cell: one per line, or separated by ;.

    Not by commas: CPE names may contain them.
    """
    if not text:
        return []
    return [part.strip() for part in re.split(r"[\n;]+", str(text)) if part.strip()]


# A telephone number as people write it: digits with spaces, dots, dashes, slashes or brackets, a leading "+", and an
# optional extension ("máy lẻ 12", "ext. 12"). At least three digits: the shortest numbers (113, 114) are three long.
_PHONE_RE = re.compile(r"^\+?[\d\s().\-/]+(?:\s*(?:ext\.?|x|máy lẻ|ml)\s*\d{1,6})?$", re.IGNORECASE)


def validate_phone(value):
    if value and (not _PHONE_RE.match(value.strip()) or sum(c.isdigit() for c in value) < 3):
        raise ValidationError(_("“%(v)s” is not a telephone number: write its digits (spaces, dots, dashes, a "
                                "leading + and an extension are allowed).") % {"v": value[:40]}, code="phone")
