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
    _message(r"Pattern failed to validate: (?:FAIL: )?Error found at line (?P<line>\d+):(?P<column>\d+)\. "
             r"(?P<detail>.*?)\.?",
             lambda m: pattern_error(int(m.group("line")), int(m.group("column")), m.group("detail"))),
    _message(r"Pattern failed to validate: (?:FAIL: )?(?P<detail>.*?)\.?",
             lambda m: _("Invalid STIX pattern: %(error)s") % {"error": m.group("detail")}),
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


# --- One line per cause -------------------------------------------------------------------------------

# A stix2-patterns parse error ("1:28: mismatched input '<EOF>' expecting ']'"): its position and the parser's
# own (English) words, which name the pattern's tokens.
_PARSE_ERROR = re.compile(r"^(?:FAIL: )?(?:Error found at line )?(?P<line>\d+):(?P<column>\d+)[.:]? (?P<detail>.*?)\.?$",
                          re.S)
_TIMESTAMP = re.compile(r"^(?:[\w.\[\]-]+: )?(?P<prop>[\w.\[\]-]+): .+ does not match the timestamp format "
                        r"YYYY-MM-DDTHH:mm:ss(?P<precise>\.sssZ)?")
_COMPARED = re.compile(r"^(?:[\w.\[\]-]+: )?'(?P<first>[^']+)' \([^)]*\) must be .+ '(?P<second>[^']+)' \(")


def pattern_error(line: int, column: int, detail: str) -> str:
    """The words of an invalid STIX pattern, its position said in the reader's language (the column counted
    from 1, as an editor counts it; the parser counts from 0)."""
    return _("Invalid STIX pattern: error at line %(line)d, column %(column)d (%(detail)s).") % {
        "line": line, "column": column + 1, "detail": detail}


def parse_error(exc) -> str:
    """What stix2-patterns raised on a pattern, as `pattern_error` says it."""
    text = str(exc).strip()
    found = _PARSE_ERROR.match(text)
    if found:
        return pattern_error(int(found.group("line")), int(found.group("column")), found.group("detail"))
    return _("Invalid STIX pattern: %(error)s") % {"error": text}


def is_pattern_message(message: str) -> bool:
    """Whether a stix2-validator message (as it wrote it) is about the pattern."""
    return "Pattern failed to validate" in message


def object_messages(object_id, messages) -> list[str]:
    """stix2-validator's messages on one object, one line per cause, in the reader's language (`in_reader_language`):

    - the object's id in front of each message is left out (every page and answer shows it beside them);
    - a timestamp that is not a timestamp at all is said once: the "not precise to the millisecond" message
      the validator adds for the same property, and the comparisons of that property with another one
      (`modified` before `created`), follow from it and are left out.
    """
    lead = f"{object_id}: " if isinstance(object_id, str) and object_id else None
    texts = [m[len(lead):] if lead and m.startswith(lead) else m for m in map(str, messages)]
    malformed = set()
    for text in texts:
        found = _TIMESTAMP.match(text)
        if found and not found.group("precise"):
            malformed.add(found.group("prop"))
    out = []
    for text in texts:
        found = _TIMESTAMP.match(text)
        if found and found.group("precise") and found.group("prop") in malformed:
            continue
        compared = _COMPARED.match(text)
        if compared and {compared.group("first"), compared.group("second")} & malformed:
            continue
        line = in_reader_language(text)
        if line not in out:
            out.append(line)
    return out
