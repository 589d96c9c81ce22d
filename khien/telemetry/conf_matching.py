"""Settings of indicator matching, sightings, notifications and correlation (telemetry).

Each is overridable in Django settings or by the environment variable of the same name.

- KHIEN_CAMPAIGN_MIN_ORGS (3): the same indicator (or the same rule) seen at this many
  distinct organizations within the window raises a national campaign.
- KHIEN_CAMPAIGN_WINDOW_SECONDS (86400): the correlation window.
- KHIEN_CAMPAIGN_RULE_MIN_SEVERITY (8): rule campaigns only consider alerts at least this
  severe (0–10), so that everyday noise seen everywhere (port scans…) does not raise campaigns.
- KHIEN_HIT_NOTIFY_SECONDS (900): how often organizations are told about their indicator hits
  (one notification per organization per run of the job).
- KHIEN_SIGHTINGS_SECONDS (300): how often new indicator hits become STIX sightings.
- KHIEN_CORRELATE_SECONDS (300): how often campaigns are looked for.
"""
from . import conf

DEFAULTS = {
    "KHIEN_CAMPAIGN_MIN_ORGS": 3,
    "KHIEN_CAMPAIGN_WINDOW_SECONDS": 86400,
    "KHIEN_CAMPAIGN_RULE_MIN_SEVERITY": 8,
    "KHIEN_HIT_NOTIFY_SECONDS": 900,
    "KHIEN_SIGHTINGS_SECONDS": 300,
    "KHIEN_CORRELATE_SECONDS": 300,
}


def get(name: str):
    return conf.get(name, DEFAULTS)
