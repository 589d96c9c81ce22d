"""Import a STIX 2.1 bundle file (or a TAXII envelope, or a list of objects) into a collection."""
from __future__ import annotations

from django.utils.translation import gettext as _

from .. import services
from .common import ImportRejected, ImportReport, add_objects, check_write, load_json, read_limited


def import_stix(collection, source, *, acting_user, file_name: str = "", recipients=None) -> ImportReport:
    """All or nothing: every object valid STIX 2.1 (or with an extension for a new type) or nothing stored."""
    check_write(collection, acting_user)
    report = ImportReport(format="stix", file_name=file_name)
    payload = load_json(read_limited(source))
    try:
        objects = services.objects_of(payload)
    except services.InvalidStix as exc:
        report.rejected = [{"ref": "", "column": "", "message": str(exc.message)}]
        raise ImportRejected(exc.message, report)
    if not objects:
        report.rejected = [{"ref": "", "column": "", "message": _("There are no objects to add.")}]
        raise ImportRejected(_("There are no objects to add."), report)
    return add_objects(collection, objects, report, acting_user=acting_user, recipients=recipients)
