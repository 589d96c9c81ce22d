"""Import a STIX 2.1 bundle file (or a TAXII envelope, or a list of objects) into a collection.

A file holding one STIX object instead of a bundle is read as a bundle of that one object, as the API takes it
(`services.objects_of`; OpenCTI's and MISP's STIX 2.1 importers likewise read such an object as a one-object
bundle); when that object is refused, the refusal says the file was one object, not a bundle. A STIX 1.x file (XML)
or a STIX 2.0 bundle is refused saying so: only STIX 2.1 is read.
"""
from __future__ import annotations

import re

from django.utils.translation import gettext as _

from khien.core.errors import Refused

from .. import services
from .common import ImportRejected, ImportReport, add_objects, check_write, load_json, read_limited

# An XML document (STIX 1.x is XML): its first non-blank character is "<" (after a UTF-8 BOM, if any).
_XML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<")


def _lone_object_type(payload) -> str | None:
    """The type of the single STIX object a file holds in place of a bundle; None for a bundle, envelope or list."""
    if isinstance(payload, dict) and "objects" not in payload and isinstance(payload.get("type"), str) \
            and payload["type"] != "bundle":
        return payload["type"]
    return None


def import_stix(collection, source, *, acting_user, file_name: str = "", recipients=None) -> ImportReport:
    """All or nothing: every object valid STIX 2.1 (or with an extension for a new type) or nothing stored."""
    check_write(collection, acting_user)
    report = ImportReport(format="stix", file_name=file_name)
    data = read_limited(source)
    if _XML_START.match(data):
        raise Refused(_("This file is XML, not JSON: STIX 1.x (XML) is not supported. Convert it to STIX 2.1 "
                        "(for example with the OASIS stix2-elevator), then import the STIX 2.1 bundle."),
                      code="stix1")
    payload = load_json(data)
    if isinstance(payload, dict) and payload.get("type") == "bundle" and payload.get("spec_version") == "2.0":
        raise Refused(_("This is a STIX 2.0 bundle: only STIX 2.1 is supported. Convert it to STIX 2.1 (for "
                        "example with the OASIS stix2-elevator), then import it."), code="stix20")
    lone = _lone_object_type(payload)
    try:
        objects = services.objects_of(payload)
    except services.InvalidStix as exc:
        message = exc.message
        if lone:
            message = _("The file is one STIX object (type “%(type)s”) without an id, not a bundle: send a STIX "
                        "2.1 bundle ({\"type\": \"bundle\", \"objects\": […]}).") % {"type": lone}
        report.rejected = [{"ref": "", "column": "", "message": str(message)}]
        raise ImportRejected(message, report)
    if not objects:
        report.rejected = [{"ref": "", "column": "", "message": _("There are no objects to add.")}]
        raise ImportRejected(_("There are no objects to add."), report)
    report.total = len(objects)  # also when refused: the report counts what the file holds
    try:
        return add_objects(collection, objects, report, acting_user=acting_user, recipients=recipients)
    except ImportRejected as exc:
        if not lone:
            raise
        raise ImportRejected(_("The file is one STIX object (type “%(type)s”), not a bundle: it was read as a "
                               "bundle of this one object, which is not valid STIX 2.1 (see below); nothing was "
                               "stored.") % {"type": lone}, exc.report) from exc
