"""Errors raised by services, turned into 4xx answers by UI and API alike."""
from django.conf import settings
from django.utils.translation import gettext as _


class Refused(Exception):
    """An operation the rules do not allow (wrong state, missing right, bad input).

    `message` is already translated (gettext) for the user.
    """

    status = 400

    def __init__(self, message, code: str = "refused", status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        if status is not None:
            self.status = status


class Forbidden(Refused):
    status = 403

    def __init__(self, message, code: str = "forbidden"):
        super().__init__(message, code)


def status_of(exc: Exception) -> int:
    """The HTTP status for an error a service raised: a refusal's own, 400 for a ValidationError."""
    return exc.status if isinstance(exc, Refused) else 400


def upload_limit_mb() -> int:
    """The largest file accepted (`KHIEN_MAX_UPLOAD_BYTES`), in MB, as upload fields' help and refusals name it."""
    return settings.KHIEN_MAX_UPLOAD_BYTES // 2**20


def file_too_large(mb=None) -> Refused:
    """The refusal (413) of an uploaded file beyond `KHIEN_MAX_UPLOAD_BYTES` (evidence, dossiers, imports alike), or
    beyond another limit given as `mb` as its page writes it (intelligence imports)."""
    limit = upload_limit_mb() if mb is None else mb
    return Refused(_("The file is larger than the limit of %(mb)s MB.") % {"mb": limit}, code="too_large", status=413)
