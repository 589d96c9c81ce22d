"""Validation of the lists a system carries (IP ranges, domains, CPE names).

Used as model-field validators, so forms, the API and imports share them.
"""
import ipaddress
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from khien.core import shapes

# CPE 2.3 formatted string: cpe:2.3:part:vendor:product:version:… (13 fields).
_CPE23_RE = re.compile(r"^cpe:2\.3:[aho\*\-](:(\\.|[^:\\])+){10}$")


def _require_list(value):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(_("Expected a list of text values."))


def validate_ip_ranges(value):
    _require_list(value)
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValidationError(_("“%(v)s” is not an IP address or CIDR range.") % {"v": item})


def validate_domains(value):
    _require_list(value)
    for item in value:
        if not shapes.is_domain_name(item.lower().rstrip(".")):
            raise ValidationError(_("“%(v)s” is not a domain name.") % {"v": item})


def validate_cpes(value):
    _require_list(value)
    for item in value:
        if not _CPE23_RE.match(item):
            raise ValidationError(_("“%(v)s” is not a CPE 2.3 name (cpe:2.3:part:vendor:product:version:…).") % {"v": item})


def normalize_ip_ranges(values):
    return [str(ipaddress.ip_network(v.strip(), strict=False)) for v in values if v.strip()]


def normalize_domains(values):
    return sorted({v.strip().lower().rstrip(".") for v in values if v.strip()})


def split_list(text: str) -> list[str]:
    """A list typed in a textarea or a spreadsheet cell: one per line, or separated by ;.

    Not by commas: CPE names may contain them.
    """
    if not text:
        return []
    return [part.strip() for part in re.split(r"[\n;]+", str(text)) if part.strip()]
