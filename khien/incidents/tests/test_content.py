"""The incident content files: RSIT 1003 and the reporting policy, loaded by `khien load_content`."""
import copy
import io

import pytest
import yaml
from django.core.management import call_command

from khien.core.models import AuditEntry
from khien.incidents import content
from khien.incidents.models import ReportingPolicy, Taxonomy

pytestmark = pytest.mark.django_db

RSIT = {
    "abusive-content": ["spam", "harmful-speech", "violence"],
    "malicious-code": ["infected-system", "c2-server", "malware-distribution", "malware-configuration"],
    "information-gathering": ["scanner", "sniffing", "social-engineering"],
    "intrusion-attempts": ["ids-alert", "brute-force", "exploit"],
    "intrusions": ["privileged-account-compromise", "unprivileged-account-compromise", "application-compromise",
                   "system-compromise", "burglary"],
    "availability": ["dos", "ddos", "misconfiguration", "sabotage", "outage"],
    "information-content-security": ["unauthorised-information-access", "unauthorised-information-modification",
                                     "data-loss", "data-leak"],
    "fraud": ["unauthorised-use-of-resources", "copyright", "masquerade", "phishing"],
    "vulnerable": ["weak-crypto", "ddos-amplifier", "potentially-unwanted-accessible", "information-disclosure",
                   "vulnerable-system"],
    "other": ["other", "undetermined"],
    "test": ["test"],
}


def test_load_content_command_loads_incident_files_once():
    out = io.StringIO()
    call_command("load_content", stdout=out)
    assert "incident_taxonomies: 1" in out.getvalue() and "reporting_policies: 1" in out.getvalue()
    entries = AuditEntry.objects.count()
    out = io.StringIO()
    call_command("load_content", stdout=out)  # idempotent
    assert "incident_taxonomies: 0" in out.getvalue() and "reporting_policies: 0" in out.getvalue()
    assert AuditEntry.objects.count() == entries
    assert Taxonomy.objects.count() == 1 and ReportingPolicy.objects.count() == 1


def test_rsit_classes_and_types_with_both_languages(incident_content):
    taxonomy = Taxonomy.current()
    classes = {c["value"]: [t["value"] for t in c["types"]] for c in taxonomy.data["classes"]}
    assert classes == RSIT
    for typ in taxonomy.types().values():
        assert typ["name_vi"] and typ["name_en"]
    assert taxonomy.types()["phishing"]["class"]["value"] == "fraud"


def test_policy_severities(incident_content):
    policy = ReportingPolicy.current()
    assert policy.severity_codes() == ["low", "medium", "high", "critical"]
    assert [s["code"] for s in policy.data["stages"]] == ["initial", "notification", "final"]


def _policy():
    return yaml.safe_load((content.DATA_DIR / "reporting.yaml").read_text())


def _taxonomy():
    return yaml.safe_load((content.DATA_DIR / "rsit.yaml").read_text())


def _bad(data, *path_and_value):
    data = copy.deepcopy(data)
    *path, last, value = path_and_value
    target = data
    for key in path:
        target = target[key]
    target[last] = value
    return data


@pytest.mark.parametrize(
    "data",
    [
        _bad(_policy(), "stages", 0, "required_fields", ["title", "colour"]),   # not an incident field
        _bad(_policy(), "stages", 1, "due", {"from": "lunch_at", "hours": 72}),
        _bad(_policy(), "stages", 1, "due", {"from": "detected_at", "weeks": 2}),
        _bad(_policy(), "stages", 2, "given_field", "reported_at"),               # used twice
        _bad(_policy(), "severities", 0, "sla", {"triage_hours": 0, "contain_hours": 1}),
        _bad(_policy(), "severities", 1, "code", "low"),                          # duplicate
    ],
)
def test_bad_policy_files_refused(data):
    with pytest.raises(content.ContentError):
        content.check_policy(data)


def test_bad_taxonomy_refused():
    data = _taxonomy()
    data["classes"][1]["types"].append({"value": "spam", "name_vi": "Thư rác"})
    with pytest.raises(content.ContentError, match="twice"):
        content.check_taxonomy(data)
