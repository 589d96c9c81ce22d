"""Every connector shipped in telemetry/integrations/ is offered on the sources' pages and downloads from the
platform itself (networks without Internet), the rsyslog file for a Wazuh manager included."""
import re
from pathlib import Path

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

INTEGRATIONS = Path(__file__).resolve().parents[1] / "integrations"


def test_every_shipped_connector_is_linked_and_downloads(world, as_user):
    client = as_user(world.admin)
    page = client.get(reverse("telemetry:sources")).content.decode()
    links = re.findall(r'href="(/telemetry/integrations/[^"]+)" download', page)
    shipped = {str(p.relative_to(INTEGRATIONS)) for p in INTEGRATIONS.rglob("*") if p.is_file()}
    assert {link.removeprefix("/telemetry/integrations/") for link in links} == shipped
    assert "integrations/rsyslog/khien-elastic-wazuh.conf" in page
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, link
        shipped_file = INTEGRATIONS / link.removeprefix("/telemetry/integrations/")
        assert b"".join(response.streaming_content) == shipped_file.read_bytes()
