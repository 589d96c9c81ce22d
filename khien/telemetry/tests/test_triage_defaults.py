"""Walkthrough fix: "Report as incident" starts from the RSIT type the alert's rule says. A Suricata sensor files
every alert under intrusion detection, so "ET MALWARE Cobalt Strike Beacon Observed" started as "exploitation of
known vulnerabilities (IDS alert)"; a malware / C2 signature is an infected system (malicious code), a scan is
scanning, a brute force is login attempts — as the ENISA RSIT (incidents/data/rsit.yaml) defines them."""
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from khien.incidents.models import Incident
from khien.telemetry import services, triage
from khien.telemetry.models import Alert

RSIT_CLASS = {"infected-system": "malicious-code", "ids-alert": "intrusion-attempts", "scanner": "information-gathering",
              "brute-force": "intrusion-attempts", "dos": "availability", "phishing": "fraud"}


@pytest.mark.parametrize("rule_name,event_category,expected", [
    # Suricata (every alert filed as intrusion_detection by the parser)
    ("ET MALWARE Cobalt Strike Beacon Observed", "intrusion_detection", "infected-system"),
    ("ET TROJAN Win32/Emotet CnC Activity (POST) M6", "intrusion_detection", "infected-system"),
    ("ET CNC Feodo Tracker Reported CnC Server group 1", "intrusion_detection", "infected-system"),
    ("ET EXPLOIT Apache log4j RCE Attempt (http ldap) (CVE-2021-44228)", "intrusion_detection", "ids-alert"),
    ("ET WEB_SERVER Possible SQL Injection Attempt UNION SELECT", "intrusion_detection", "ids-alert"),
    ("ET SCAN Potential SSH Scan", "intrusion_detection", "scanner"),
    ("ET SCAN NMAP -sS window 1024", "intrusion_detection", "scanner"),
    ("ET DOS Possible NTP DDoS Inbound Frequent Un-Authed MON_LIST Requests IMPL 0x03", "intrusion_detection", "dos"),
    ("ET PHISHING Successful Microsoft Account Phish 2022-10-05", "intrusion_detection", "phishing"),
    # Wazuh (rootcheck and malware rules filed under "host" / "malware")
    ("Host-based anomaly detection event (rootcheck).", "host", "infected-system"),
    ("Rootkit 'Adore' detected by the presence of file '/dev/.shit/red.tgz'.", "host", "infected-system"),
    ("Trojaned version of file '/bin/ls' detected. Signature used: 'bash|^/bin/sh|file\\.h|proc\\.h'", "host",
     "infected-system"),
    ("VirusTotal: Alert - c:\\users\\public\\update.exe - 48 engines detected this file", "malware",
     "infected-system"),
    ("sshd: brute force trying to get access to the system. Non existent user.", "authentication", "brute-force"),
    ("Multiple Windows Logon Failures", "authentication", "brute-force"),
    ("SQL injection attempt.", "web", "ids-alert"),
    # FortiGate and SIEM names
    ("Cobalt.Strike.Beacon", "ips", "infected-system"),
    ("SSH.Connection.Brute.Force", "ips", "brute-force"),
    ("Apache.Log4j.Error.Log.Remote.Code.Execution", "ips", "ids-alert"),
    ("Potential SSH Brute Force Detected", "authentication", "brute-force"),
    ("Malware Detection Alert", "malware", "infected-system"),
    # A name that says nothing plain: the events' category, as before.
    ("Rule c2-beacon", "intrusion_detection", "ids-alert"),
    ("Outbound connection to suspicious domain", "malware", "infected-system"),
    ("Policy: file added", "file", "ids-alert"),
])
def test_the_rule_name_says_the_incident_type(rule_name, event_category, expected):
    assert triage.incident_category(rule_name, event_category) == expected


def test_every_type_offered_is_in_the_rsit_taxonomy():
    import pathlib

    import yaml

    rsit = yaml.safe_load((pathlib.Path(triage.__file__).parents[1] / "incidents/data/rsit.yaml").read_text())
    types = {t["value"]: c["value"] for c in rsit["classes"] for t in c["types"]}
    for _pattern, category in triage.INCIDENT_CATEGORY_OF_RULE:
        assert types[category] == RSIT_CLASS[category]
    for category in triage.INCIDENT_CATEGORY_OF_EVENT.values():
        assert category in types


def _suricata(signature, sid, n=0):
    return json.dumps({
        "timestamp": timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%f+0000"), "event_type": "alert",
        "src_ip": "10.0.0.5", "src_port": 51000 + n, "dest_ip": "203.0.113.77", "dest_port": 443, "proto": "TCP",
        "alert": {"signature_id": sid, "signature": signature, "category": "A Network Trojan was detected",
                  "severity": 1}, "host": "ids-01"}).encode()


@pytest.fixture
def content():
    from khien.incidents import content

    content.load_all()


def test_reporting_a_cobalt_strike_alert_starts_as_an_infected_system(world, content, make_source, as_user):
    source, _key = make_source(world.ministry, "suricata")
    services.ingest_batch(source, [_suricata("ET MALWARE Cobalt Strike Beacon Observed", 2030045)])
    alert = Alert.objects.get()
    assert triage.incident_defaults(alert)["category"] == "infected-system"
    # The alert's page offers it so (the form's initial choice) …
    page = as_user(world.analyst).get(reverse("telemetry:alert", args=[alert.pk])).content.decode()
    assert '<option value="infected-system" selected>' in page
    # … and the incident reported without changing it is of that type.
    incident = triage.do_alert_to_incident(alert, acting_user=world.analyst)
    assert Incident.objects.get(pk=incident.pk).category == "infected-system"
