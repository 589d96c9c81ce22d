from pathlib import Path

import pytest

SAMPLES = Path(__file__).parent / "samples"


def pytest_configure(config):
    config.addinivalue_line("markers", "nats: needs the NATS JetStream server on 127.0.0.1:4222")


@pytest.fixture(autouse=True)
def _fresh_matcher():
    """Each test starts without the process's matcher: a rolled-back test can leave the store with the same ids
    (SQLite reuses them) and so the same fingerprint, and the next test would match against its indicators."""
    from khien.telemetry import matcher

    matcher.invalidate()
    yield
    matcher.invalidate()


def intake_counts(response) -> dict:
    """The three counts of an intake answer (it also lists the rejected records: `rejected_records`)."""
    answer = response.json()
    return {key: answer[key] for key in ("accepted", "duplicates", "rejected")}


def sample_lines(name: str) -> list[bytes]:
    return [line for line in (SAMPLES / name).read_bytes().splitlines() if line.strip()]


@pytest.fixture
def make_source(world):
    """Register a source through the service, as an organization administrator would; returns (source, key)."""
    from khien.telemetry import services

    counter = {"n": 0}

    def make(org=None, format="wazuh", name=None, acting_user=None, time_zone="UTC"):
        """UTC unless told: the samples' zone-less times are read as written."""
        counter["n"] += 1
        org = org or world.ministry
        return services.do_create_source(org, name or f"{format}-{org.code}-{counter['n']}".lower(), format,
                                         time_zone=time_zone, acting_user=acting_user or world.coordinator)

    return make


@pytest.fixture
def reads_in():
    """`reads_in(user, "en")`: the user chose that language with the switch (kept on the account)."""
    from khien.core.models import User

    def choose(user, language):
        User.objects.filter(pk=user.pk).update(language=language)
        user.language = language

    return choose


def as_read(notification):
    """(title, body) of a notification as its recipient reads it: in the language they chose (else the
    platform's) — the page after their language switch, and their e-mails."""
    from django.utils import translation

    from khien.core import notifications

    with translation.override(notifications.recipient_language(notification.recipient)):
        return notification.shown_title, notification.shown_body


def kept_untranslated(notification) -> bool:
    """The notification keeps its title (and body, when it has one) as catalogue entries with their parameters,
    as every app's (decision 0015): rendered from the catalogue when read, not sentences finished in advance."""
    texts = notification.texts or {}
    # A name given in both languages (an organization's, a province's) may be a parameter; the sentences may not.
    return "msgid" in texts.get("title", {}) and not any("by_language" in (texts.get(part) or {})
                                                         for part in ("title", "body"))
