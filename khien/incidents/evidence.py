"""Evidence integrity: the one rule that says whether a stored item still is what was received (its SHA-256 and
size), what the pages, the API and the PDF say about it, and how a size is written.

The writes (a check recorded in the chain of custody, a refused download, an intact download audited) are in
`services`; this module only reads. `khien evidence verify`, sealing, downloads and the "Verify integrity" action all
use `integrity`.
"""
import hashlib
from dataclasses import dataclass

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from khien.core.texts import shown_time

from .models import CustodyAction, Evidence, EvidenceKind

CHUNK = 1 << 20  # files are hashed 1 MiB at a time: a disk image is never read whole into memory

INTACT, CHANGED, MISSING = "intact", "content_changed", "file_missing"
# The custody step that records each result.
RECORDED_AS = {INTACT: CustodyAction.VERIFIED, CHANGED: CustodyAction.CONTENT_CHANGED,
               MISSING: CustodyAction.FILE_MISSING}
CHECK_ACTIONS = frozenset(RECORDED_AS.values())
# A download that found the file intact is a check too, but one per download in the chain of custody would bury its
# hand-overs: it is the audit log's export entry of the file, `after["served"]` saying what was served.
SERVED_INTACT = "intact"


@dataclass(frozen=True)
class Integrity:
    """The result of reading an item again: `code` INTACT, CHANGED or MISSING; what was found."""

    code: str
    sha256: str = ""  # found (empty when the file is missing)
    size: int | None = None

    @property
    def ok(self) -> bool:
        return self.code == INTACT


def digest(handle) -> tuple[str, int]:
    """SHA-256 and size of an open binary file, read chunk by chunk from its start."""
    sha, size = hashlib.sha256(), 0
    for chunk in iter(lambda: handle.read(CHUNK), b""):
        sha.update(chunk)
        size += len(chunk)
    return sha.hexdigest(), size


def note_digest(text: str) -> tuple[str, int]:
    data = text.encode("utf-8")
    return hashlib.sha256(data).hexdigest(), len(data)


def integrity(evidence: Evidence, handle=None) -> Integrity:
    """Read the stored file (or the note) again and compare it with the SHA-256 and size recorded when it was
    received. `handle`: the file already opened (a download hashes the very handle it then serves; it is left at
    its start). An item kept elsewhere is not here to read: callers leave it out (`services.do_verify_evidence`)."""
    if evidence.kind == EvidenceKind.NOTE:
        sha256, size = note_digest(evidence.note)
    elif handle is not None:
        handle.seek(0)
        sha256, size = digest(handle)
        handle.seek(0)
    else:
        if not evidence.file.name:
            return Integrity(MISSING)
        try:
            with evidence.file.storage.open(evidence.file.name, "rb") as opened:
                sha256, size = digest(opened)
        except FileNotFoundError:
            return Integrity(MISSING)
    code = INTACT if (sha256, size) == (evidence.sha256, evidence.size) else CHANGED
    return Integrity(code, sha256, size)


def problem_text(evidence: Evidence, found: Integrity) -> str:
    """What is wrong, in the current language ("" when intact): the operator's command and refusals say it."""
    if found.code == MISSING:
        return _("the file is missing")
    if found.code == CHANGED:
        if found.sha256 != evidence.sha256:
            return _("the content changed (SHA-256 %(found)s, recorded %(recorded)s)") % {
                "found": found.sha256, "recorded": evidence.sha256}
        return _("the size changed (%(found)s bytes, recorded %(recorded)s)") % {
            "found": found.size, "recorded": evidence.size}
    return ""


def _quick_look(evidence: Evidence) -> str | None:
    """What a page can tell without reading a file whole: a note is hashed (it is small); of a file only whether it
    is there and has its size (an appended or truncated file). None when nothing is seen wrong."""
    if evidence.kind == EvidenceKind.NOTE:
        found = integrity(evidence)
        return None if found.ok else found.code
    if not evidence.file.name:
        return MISSING
    storage = evidence.file.storage
    try:
        size = storage.size(evidence.file.name)
    except (FileNotFoundError, OSError):
        return MISSING
    return None if size == evidence.size else CHANGED


@dataclass(frozen=True)
class IntegrityState:
    """What the page, the API and the PDF say of an item's integrity.

    `state`: "verified" (the last check found it intact), "unverified" (not checked since received),
    "content_changed" or "file_missing" (seen now, or found by the last check and not checked intact since), or
    "declared" (kept elsewhere: the SHA-256 as declared, checked by its holder). `checked_at`: the last recorded
    check, None when the problem is seen now or there was none."""

    state: str
    checked_at: object = None
    text: str = ""

    @property
    def problem(self) -> bool:
        return self.state in (CHANGED, MISSING)


def last_check(evidence: Evidence):
    """The last integrity check recorded in the item's chain of custody (prefetched `custody` is used), or None."""
    checks = [c for c in evidence.custody.all() if c.action in CHECK_ACTIONS]
    return max(checks, key=lambda c: (c.at, c.pk)) if checks else None


def last_intact_download(evidence: Evidence):
    """When a download last found the file intact (`services.open_evidence_file` audits it), or None."""
    if evidence.kind != EvidenceKind.FILE:
        return None
    from khien.core.audit import Act
    from khien.core.models import AuditEntry

    return (AuditEntry.objects.filter(action=Act.EXPORT, object_type=Evidence._meta.label_lower,
                                      object_id=str(evidence.pk), after__served=SERVED_INTACT)
            .order_by("-seq").values_list("at", flat=True).first())


def integrity_state(evidence: Evidence) -> IntegrityState:
    """The item's integrity as shown: a problem seen now (file gone, size changed, note altered) first, else the last
    check — recorded in the chain of custody (`services.do_verify_evidence`, a refused download) or an intact
    download, whichever is later. Hashes a note but never a whole file: a page lists many items; the full check is
    the "Verify integrity" action and every download."""
    if evidence.kind == EvidenceKind.EXTERNAL:
        return IntegrityState("declared", None, _("As declared: the platform holds no copy; its holder checks it "
                                                  "against this SHA-256."))
    seen = _quick_look(evidence)
    if seen == MISSING:
        return IntegrityState(MISSING, None, _("File missing: the stored file is no longer there."))
    if seen == CHANGED:
        return IntegrityState(CHANGED, None, _("Content changed: it no longer matches the SHA-256 recorded when it "
                                               "was received."))
    last = last_check(evidence)
    downloaded = last_intact_download(evidence)
    if downloaded is not None and (last is None or downloaded > last.at):
        return IntegrityState("verified", downloaded, _("Verified %(at)s: matches its SHA-256.") % {
            "at": shown_time(downloaded)})
    if last is None:
        return IntegrityState("unverified", None, _("Not verified since it was received."))
    when = shown_time(last.at)
    if last.action == CustodyAction.VERIFIED:
        return IntegrityState("verified", last.at, _("Verified %(at)s: matches its SHA-256.") % {"at": when})
    if last.action == CustodyAction.FILE_MISSING:
        return IntegrityState(MISSING, last.at, _("File missing (found %(at)s).") % {"at": when})
    return IntegrityState(CHANGED, last.at, _("Content changed (found %(at)s): it no longer matches its "
                                              "SHA-256.") % {"at": when})


def size_label(size: int) -> str:
    """A size in decimal units (1 kB = 1,000 bytes, 1 GB = 10⁹ bytes), as disk makers, imaging tools' reports and
    courts read them: 512,000,000,000 bytes is "512 GB" (Django's filesizeformat says "476.8 GB", in binary units).
    The page and the PDF both write sizes with it."""
    if size < 1000:
        return ngettext("%(n)s byte", "%(n)s bytes", size) % {"n": size}
    value, unit = float(size), "B"
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        value /= 1000
        if round(value, 1) < 1000:
            break
    value = round(value, 1)
    shown = formats.number_format(int(value)) if value == int(value) else formats.number_format(value, 1)
    return f"{shown} {unit}"


def exact_bytes(size: int) -> str:
    """The exact size, grouped as the reader's language writes numbers ("512.000.000.000 byte")."""
    return ngettext("%(n)s byte", "%(n)s bytes", size) % {"n": formats.number_format(size, force_grouping=True)}
