"""stix2-validator's messages in the reader's language.

stix2-validator (and jsonschema under it) write English only. The messages a person meets most often when a file
or a TAXII submission is refused — a required property missing, an id or a timestamp in the wrong format, a value of
the wrong type, out of range or not among the allowed ones, an empty list, `modified` before `created`, an unknown
property — are recognized here by their fixed wording and said again through gettext, the object's path and values
kept as they were. Any other message is left in English as the validator wrote it: a rare message read in English
is better than a wrong translation.
"""
import re

from django.utils.translation import get_language
from django.utils.translation import gettext as _

# "<object id>: <property path>: " in front of the message, each optional.
_LEAD = re.compile(r"^(?P<lead>(?:[a-z0-9-]+--[^\s:]+: )?(?:[\w.\[\]-]+: )?)(?P<text>.*)$", re.S)

_COMPARISONS = {
    "later than": lambda: _("later than"),
    "later than or equal to": lambda: _("later than or equal to"),
    "earlier than": lambda: _("earlier than"),
    "earlier than or equal to": lambda: _("earlier than or equal to"),
    "equal to": lambda: _("equal to"),
}


def _message(pattern: str, render):
    return re.compile(pattern + r"$", re.S), render


_MESSAGES = [
    _message(r"'(?P<name>[^']+)' is a required property",
             lambda m: _("the required property '%(name)s' is missing") % m.groupdict()),
    _message(r"(?P<value>.+) does not match the id format \(\[object-type\]--\[UUID\]\)",
             lambda m: _("%(value)s is not a STIX id ([object-type]--[UUID])") % m.groupdict()),
    _message(r"(?P<value>.+) does not start with '(?P<prefix>[^']+)'",
             lambda m: _("%(value)s must start with '%(prefix)s'") % m.groupdict()),
    _message(r"(?P<value>.+) does not match the timestamp format YYYY-MM-DDTHH:mm:ss\.sssZ "
             r"\(must be precise to the millisecond\)",
             lambda m: _("%(value)s is not a timestamp precise to the millisecond (YYYY-MM-DDTHH:mm:ss.sssZ)")
             % m.groupdict()),
    _message(r"(?P<value>.+) does not match the timestamp format YYYY-MM-DDTHH:mm:ss\[\.s\+\]Z",
             lambda m: _("%(value)s is not a timestamp (YYYY-MM-DDTHH:mm:ss[.s+]Z, in UTC)") % m.groupdict()),
    _message(r"(?P<value>.+) is not of type (?P<types>'[^']+'(?:, '[^']+')*)",
             lambda m: _("%(value)s is not of type %(types)s") % m.groupdict()),
    _message(r"(?P<value>.+) is not one of (?P<allowed>\[.*\])",
             lambda m: _("%(value)s is not one of the allowed values %(allowed)s") % m.groupdict()),
    _message(r"(?P<value>.+) is greater than the maximum of (?P<limit>\S+)",
             lambda m: _("%(value)s is greater than the maximum, %(limit)s") % m.groupdict()),
    _message(r"(?P<value>.+) is less than the minimum of (?P<limit>\S+)",
             lambda m: _("%(value)s is less than the minimum, %(limit)s") % m.groupdict()),
    _message(r"(?:\[\] should be non-empty|empty arrays are not allowed)",
             lambda m: _("an empty list is not allowed")),
    _message(r"null properties are not allowed in STIX\.",
             lambda m: _("a property cannot be null in STIX")),
    _message(r"Additional properties are not allowed \((?P<names>.+) (?:was|were) unexpected\)",
             lambda m: _("properties not defined for this object: %(names)s") % m.groupdict()),
    _message(r"'(?P<first>[^']+)' \((?P<first_value>[^)]*)\) must be (?P<comparison>"
             + "|".join(sorted(map(re.escape, _COMPARISONS), key=len, reverse=True))
             + r") '(?P<second>[^']+)' \((?P<second_value>[^)]*)\)",
             lambda m: _("'%(first)s' (%(first_value)s) must be %(comparison)s '%(second)s' (%(second_value)s)")
             % {**m.groupdict(), "comparison": _COMPARISONS[m.group("comparison")]()}),
]


def in_reader_language(message: str) -> str:
    """One stix2-validator message as the reader reads it: translated when its wording is one of the known ones
    and the active language is not English; otherwise as the validator wrote it."""
    if (get_language() or "en").startswith("en"):
        return message
    lead = _LEAD.match(message)
    if lead is None:
        return message
    text = lead.group("text")
    for pattern, render in _MESSAGES:
        found = pattern.match(text)
        if found:
            return lead.group("lead") + render(found)
    return message
