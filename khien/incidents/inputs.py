"""What an incident report's free input must respect, in one place: the report forms and the API serializers take
their limits and rules from here (the page and the API answer alike, before anything is stored).

The model's text fields have no length of their own (TextField): these limits keep a pasted log of two million
characters out of the incident, its notices and its PDF report.
"""
from __future__ import annotations

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from khien.core.errors import upload_limit_mb

TITLE_MAX = 300  # the model's max_length
DESCRIPTION_MAX = 20000
SERVICES_DISRUPTED_MAX = 5000
LATE_REASON_MAX = 5000
ROOT_CAUSE_MAX = 20000
MITIGATION_MAX = 20000
COMMENT_MAX = 20000

# The free-text fields of the report and its later stages, with their limits.
REPORT_TEXT_MAX = {
    "description": DESCRIPTION_MAX,
    "services_disrupted": SERVICES_DISRUPTED_MAX,
    "late_reason": LATE_REASON_MAX,
    "root_cause": ROOT_CAUSE_MAX,
    "mitigation": MITIGATION_MAX,
}


def at_most(n: int) -> str:
    """“At most 20,000 characters.” in the reader's language (the number grouped as it writes numbers)."""
    return _("At most %(n)s characters.") % {"n": number_format(n, force_grouping=True)}


def exposure_problem(data_exposed, personal_data_exposed) -> str | None:
    """Personal data is data: "personal data exposed" with "data exposed: no" is a contradiction, refused (the form
    and the API alike) rather than guessed."""
    if personal_data_exposed is True and data_exposed is False:
        return _("Personal data is data: when personal data is exposed, data is exposed too. Correct “Data "
                 "exposed” or “Personal data exposed”.")
    return None


def upload_limit_text() -> str:
    """The size limit of an evidence file, said next to the file field (the page) and in the API's schema: the same
    setting the service checks (`KHIEN_MAX_UPLOAD_BYTES`)."""
    return _("At most %(mb)s MB per file.") % {"mb": upload_limit_mb()}
