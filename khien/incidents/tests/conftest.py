"""Incident fixtures: the content files loaded, and a helper that reports through the service."""
import datetime as dt

import pytest
from django.utils import timezone


@pytest.fixture
def incident_content(db):
    from khien.incidents import content

    content.load_all()


@pytest.fixture
def report(world, incident_content):
    """Report an incident for `org` as `user` through the service (defaults: the ministry's analyst)."""
    from khien.incidents import services

    def make(org=None, user=None, systems=(), now=None, observables=(), **fields):
        now = now or timezone.now()
        data = {
            "organization": org or world.ministry,
            "title": "Mã độc trên máy chủ thư điện tử",
            "detected_at": now - dt.timedelta(hours=2),
            "category": "infected-system",
            "severity": "high",
            "suspected_malicious": True,
            "impact_beyond_organization": False,
            "description": "Phát hiện mã độc trên máy chủ thư điện tử.",
        }
        data.update(fields)
        return services.do_report_incident(data, acting_user=user or world.analyst, systems=systems, now=now,
                                           observables=observables)

    return make
