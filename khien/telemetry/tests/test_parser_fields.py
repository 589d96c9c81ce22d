"""Walkthrough fix: what the analyst needs from a record is not lost in normalization.

- A FortiGate IPS record in CEF names its event type in the header ("utm:ips signature") and the signature in its
  extension (FTNTFGTattack, msg "group: Signature.Name,", a custom string labelled as the signature): the rule is
  the signature (name, and id when the record carries the signature's id), so that two signatures are two alerts
  and a rule campaign is one signature. A header Name that already names something keeps it.
- Wazuh's data.dstuser and agent.ip have no column of the event (no user, no observer address): they stay in the
  raw record kept with every event, shown on the events page.
"""
import datetime as dt

import orjson
import pytest
from django.urls import reverse

from khien.conftest import _user
from khien.core.roles import Role
from khien.telemetry import parsers, services
from khien.telemetry.models import Alert, Event

FORTI = ("<189>Dec  7 09:30:01 fw-01 CEF:0|Fortinet|Fortigate|v7.2.5|16384|utm:ips signature|4|"
         "deviceExternalId=FG600E0000001 FTNTFGTlogid=0419016384 cat=utm:ips FTNTFGTsubtype=ips "
         "FTNTFGTeventtype=signature FTNTFGTlevel=alert FTNTFGTseverity=critical src=203.0.113.9 spt=51000 "
         "dst=10.1.1.5 dpt=443 proto=6 act=dropped rt=1796610601000 {tail}")
LOG4J = "Apache.Log4j.Error.Log.Remote.Code.Execution"


@pytest.mark.parametrize("tail,rule_id,rule_name", [
    # FortiGate's own fields: the attack's name and id.
    (f"FTNTFGTattack={LOG4J} FTNTFGTattackid=51006 msg=web_misc: {LOG4J},", "51006", LOG4J),
    # Only the message, as FortiGate writes it ("group: signature,") or as the signature alone.
    (f"msg=web_misc: {LOG4J},", "16384", LOG4J),
    (f"msg={LOG4J}", "16384", LOG4J),
    # A custom string labelled as the signature (an ArcSight-style mapping), its id in a labelled number.
    (f"cs1Label=Attack Name cs1={LOG4J} cn1Label=Attack ID cn1=51006", "51006", LOG4J),
    # A virus log: the virus's name and id; its message is a sentence, not a name.
    ("FTNTFGTvirus=EICAR_TEST_FILE FTNTFGTvirusid=2172 msg=File is infected.", "2172", "EICAR_TEST_FILE"),
])
def test_a_fortigate_ips_record_is_named_by_its_signature(tail, rule_id, rule_name):
    event = parsers.parse_cef(FORTI.format(tail=tail))
    assert (event["rule_id"], event["rule_name"]) == (rule_id, rule_name)


@pytest.mark.parametrize("tail", [
    "msg=URL belongs to a denied category in policy",  # a sentence: no signature named
    "act=dropped",  # the device's action is no signature
    "cs2Label=type cs2=signature",  # a custom string labelled otherwise
    "",
])
def test_a_generic_header_without_a_signature_keeps_the_header(tail):
    event = parsers.parse_cef(FORTI.format(tail=tail))
    assert (event["rule_id"], event["rule_name"]) == ("16384", "utm:ips signature")


@pytest.mark.parametrize("line,name", [
    # A header Name that names the detection stays, whatever the message says.
    ("CEF:0|Fortinet|FortiGate-600E|7.2.5|0419016384|IPS: Apache Log4j RCE attempt|8|rt=1796610601000 "
     f"msg=web_misc: {LOG4J}", "IPS: Apache Log4j RCE attempt"),
    ("CEF:0|Trend Micro|Deep Security Agent|20.0|4000000|Eicar_test_file|6|rt=1796610601000 msg=Realtime",
     "Eicar_test_file"),
    ("CEF:0|Demo|Engine|1.0|corr-77|Outbound connection to suspicious domain|7|rt=1796610601000 msg=Beacon.Seen",
     "Outbound connection to suspicious domain"),
])
def test_a_specific_header_name_is_kept(line, name):
    assert parsers.parse_cef(line)["rule_name"] == name


def test_two_fortigate_signatures_are_two_alerts(world, make_source):
    source, _key = make_source(world.ministry, "cef")
    log4j = FORTI.format(tail=f"FTNTFGTattack={LOG4J} FTNTFGTattackid=51006")
    smb = FORTI.format(tail="FTNTFGTattack=MS.SMB.Server.SMB1.Trans2.Secondary.Handling.Code.Execution "
                            "FTNTFGTattackid=43796")
    assert services.ingest_batch(source, [log4j, smb]).accepted == 2
    assert sorted(Alert.objects.values_list("rule_id", "rule_name")) == [
        ("43796", "MS.SMB.Server.SMB1.Trans2.Secondary.Handling.Code.Execution"), ("51006", LOG4J)]


WAZUH = {
    "timestamp": "2026-12-07T09:30:01.000+0700",
    "rule": {"level": 10, "description": "sshd: Attempt to login using a non-existent user", "id": "5710",
             "groups": ["syslog", "sshd", "authentication_failed", "invalid_login"]},
    "agent": {"id": "012", "name": "web-01", "ip": "10.20.30.40"},
    "manager": {"name": "wazuh-manager-01"},
    "data": {"srcip": "203.0.113.9", "srcport": "51000", "dstuser": "oracle"},
    "location": "/var/log/auth.log",
}


def test_wazuh_user_and_agent_address_stay_in_the_kept_record(world, make_source, as_user):
    source, _key = make_source(world.ministry, "wazuh")
    assert services.ingest_batch(source, [orjson.dumps(WAZUH)]).accepted == 1
    event = Event.objects.get()
    assert (event.observer, event.src_ip, event.rule_id) == ("web-01", "203.0.113.9", "5710")
    raw = event.raw if isinstance(event.raw, dict) else orjson.loads(event.raw)
    assert raw["data"]["dstuser"] == "oracle" and raw["agent"]["ip"] == "10.20.30.40"
    # The organization's analyst reads them on the events page (the record as received).
    since = dt.datetime(2026, 12, 6, tzinfo=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M")
    page = as_user(world.analyst).get(reverse("telemetry:events"), {"since": since}).content.decode()
    assert "oracle" in page and "10.20.30.40" in page
    # Another organization's analyst does not.
    other = _user("analyst@prov.test.vn", world.province, Role.ORG_ANALYST)
    page = as_user(other).get(reverse("telemetry:events"), {"since": since}).content.decode()
    assert "oracle" not in page and "10.20.30.40" not in page
