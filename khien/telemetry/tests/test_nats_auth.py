"""Per-source NATS users, against a real nats-server started here with the block `khien telemetry nats-config`
writes: a source connects with its name and key and publishes on its own subject only; the workers' user
does the rest; nobody else connects; a rotated key is refused once the block is written again and the server
reloaded. (Debian's nats-server; required when KHIEN_REQUIRE_SERVICES=1.)
"""
import shutil
import signal
import socket
import subprocess
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from nats.errors import Error as NatsError

from khien.conftest import require_tool
from khien.telemetry import conf, services
from khien.telemetry.models import Event

from .conftest import sample_lines

pytestmark = [pytest.mark.nats, pytest.mark.django_db]

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
WORKER_PASSWORD = "worker-password-of-the-test-run"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SecuredNats:
    """A nats-server with JetStream whose users are those of `khien telemetry nats-config`."""

    def __init__(self, folder: Path):
        require_tool(Path(NATS_SERVER).exists(), "nats-server", "apt install nats-server")
        self.folder, self.port = folder, _free_port()
        self.auth = folder / "auth.conf"
        self.write_users()
        (folder / "server.conf").write_text(
            f'listen: "127.0.0.1:{self.port}"\njetstream {{ store_dir: "{folder / "js"}" }}\ninclude "auth.conf"\n')
        self.log = folder / "nats-server.log"
        self.process = subprocess.Popen([NATS_SERVER, "-c", str(folder / "server.conf"), "-l", str(self.log)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("nats-server did not start")

    def write_users(self):
        out, err = StringIO(), StringIO()
        password_file = self.folder / "worker-password"
        password_file.write_text(WORKER_PASSWORD + "\n")
        call_command("telemetry", "nats-config", "--worker-password-file", str(password_file),
                     "--output", str(self.auth), stdout=out, stderr=err)
        self.report = err.getvalue()

    def _reloads(self) -> int:
        return self.log.read_text().count("Reloaded server configuration") if self.log.exists() else 0

    def reload(self):
        """Write the users again and reload the server, as the operator does; back once it has reloaded."""
        self.write_users()
        before = self._reloads()
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while self._reloads() == before:
            assert time.monotonic() < deadline, f"nats-server did not reload: {self.log.read_text()[-2000:]}"
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def worker_url(self) -> str:
        return f"nats://khien-worker:{WORKER_PASSWORD}@127.0.0.1:{self.port}"

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def secured(tmp_path, settings):
    server = SecuredNats(tmp_path)
    settings.KHIEN_NATS_URL = server.worker_url
    yield server
    server.stop()


def _link(url, **credentials):
    from khien.telemetry.nats import JetStreamLink

    return JetStreamLink(url, connect_timeout=2, **credentials)


def _stream_messages(link) -> int:
    from khien.telemetry import conf

    return link.call(link.js.stream_info(conf.get("KHIEN_NATS_STREAM"))).state.messages


def test_users_and_permissions(secured, make_source):
    from khien.telemetry import nats as transport

    wazuh, wazuh_key = make_source(format="wazuh")
    cef, cef_key = make_source(format="cef")
    secured.reload()
    assert "2 sources" in secured.report and "skipped" not in secured.report
    # Nobody connects without a user, nor with a wrong key, nor with another source's key.
    for credentials in ({}, {"user": wazuh.name, "password": "khs_wrong"}, {"user": wazuh.name, "password": cef_key}):
        with pytest.raises(NatsError, match="Authorization Violation"):
            _link(secured.url, **credentials)
    worker = _link(secured.worker_url)
    try:
        transport.ensure_stream(worker)
        # The source publishes on its own subject with its key: stored by the worker.
        with _link(secured.url, user=wazuh.name, password=wazuh_key) as as_wazuh:
            assert transport.publish(wazuh, sample_lines("wazuh_alerts.ndjson"), key=wazuh_key,
                                     link=as_wazuh).stored == 4
            # Not on another source's subject, even with that source's key in the header: the server drops the
            # publication (no acknowledgement comes back) and the stream does not grow.
            prefix = conf.get("KHIEN_NATS_SUBJECT_PREFIX")
            with pytest.raises(TimeoutError):
                as_wazuh.call(as_wazuh.js.publish(f"{prefix}.{cef.name}", sample_lines("cef_alerts.log")[0],
                                                  headers={transport.SOURCE_KEY_HEADER: cef_key}, timeout=1),
                              timeout=5)
            # Nor read the stream (consumers are the workers' business): the request is dropped too.
            with pytest.raises(TimeoutError):
                as_wazuh.call(as_wazuh.js.pull_subscribe(f"{prefix}.>", "spy"), timeout=5)
        assert _stream_messages(worker) == 4
        stats = transport.Worker(worker, batch=100).run(idle_exit=True)
        assert stats.accepted == 4 and Event.objects.filter(source=wazuh).count() == 4
        assert not Event.objects.filter(source=cef).exists()
    finally:
        worker.close()


def test_a_rotated_key_no_longer_connects_once_the_users_are_written_again(secured, make_source, world):
    source, old_key = make_source(format="ecs")
    secured.reload()
    _link(secured.url, user=source.name, password=old_key).close()
    new_key = services.do_rotate_source_key(source, acting_user=world.admin)
    secured.reload()
    with pytest.raises(NatsError, match="Authorization Violation"):
        _link(secured.url, user=source.name, password=old_key)
    _link(secured.url, user=source.name, password=new_key).close()
    # A disabled source has no user at all.
    services.do_update_source(source, {"enabled": False}, acting_user=world.admin)
    secured.reload()
    assert "0 sources" in secured.report
    with pytest.raises(NatsError, match="Authorization Violation"):
        _link(secured.url, user=source.name, password=new_key)


def test_the_publish_command_connects_as_the_source(secured, make_source, tmp_path, settings):
    from khien.telemetry import nats as transport

    source, key = make_source(format="wazuh")
    secured.reload()
    worker = _link(secured.worker_url)
    try:
        transport.ensure_stream(worker)
        alerts = tmp_path / "alerts.ndjson"
        alerts.write_bytes(b"\n".join(sample_lines("wazuh_alerts.ndjson")) + b"\n")
        key_file = tmp_path / "key"
        key_file.write_text(key)
        out = StringIO()
        # KHIEN_NATS_URL carries the workers' user: the command replaces it with the source's.
        call_command("telemetry", "publish", str(alerts), "--source", source.name, "--key-file", str(key_file),
                     stdout=out)
        assert out.getvalue().strip() == "published 4 duplicates 0"
        assert _stream_messages(worker) == 4
    finally:
        worker.close()


def test_nats_config_refuses_a_short_worker_password_and_skips_sources_without_a_hash(make_source, tmp_path,
                                                                                      monkeypatch, settings):
    from django.core.management.base import CommandError

    settings.LANGUAGE_CODE = "en"  # the command's refusals are in the platform's language: read in English here

    from khien.telemetry.models import AlertSource

    source, _key = make_source(format="wazuh")
    AlertSource.objects.filter(pk=source.pk).update(nats_password_hash="")  # a key made before this existed
    monkeypatch.setenv("KHIEN_NATS_WORKER_PASSWORD", "short")
    with pytest.raises(CommandError, match="at least 16"):
        call_command("telemetry", "nats-config", stdout=StringIO(), stderr=StringIO())
    monkeypatch.setenv("KHIEN_NATS_WORKER_PASSWORD", WORKER_PASSWORD)
    out, err = StringIO(), StringIO()
    call_command("telemetry", "nats-config", stdout=out, stderr=err)
    assert f"skipped (key made before per-source NATS users; rotate it to give them one): {source.name}" in err.getvalue()
    assert source.name not in out.getvalue() and WORKER_PASSWORD not in out.getvalue()
    assert '"khien-worker"' in out.getvalue() and '"$2a$12$' in out.getvalue()
