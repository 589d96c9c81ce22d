"""Per-source users of the NATS server: each SOC tool may publish on its own subject only.

The worker already refuses a message without the key of the source its subject
names (nats.py). This is the second lock, on the bus itself: the operators put
the block written by `khien telemetry nats-config` into nats-server.conf and
reload the server. Then

- a source connects with its name as user and its key as password (the same key
  as for HTTP) and may publish only on `<prefix>.<its name>` (and read its
  replies: JetStream's acknowledgements come back on `_INBOX.>`, and the
  stream's description, which `khien telemetry publish` asks for);
- the workers connect as one worker user (KHIEN_NATS_URL
  nats://<user>:<password>@host:4222) with every right: they create the stream
  and its consumer and consume it;
- nobody else connects. A disabled source has no user.

The server checks bcrypt hashes: a source's is made with its key
(`services.nats_password_hash`) and changes with it, so after a rotation the
block must be written again and the server reloaded (the old key then no longer
connects). A source whose key was made before per-source users existed has no
hash yet: it is listed as skipped until its key is rotated.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import orjson

from . import conf
from .models import AlertSource
from .services import nats_password_hash


WORKER_COST = 12  # a password a person chose


@dataclass
class NatsAuthorization:
    text: str  # the `authorization { … }` block for nats-server.conf
    sources: list[str] = field(default_factory=list)  # given a user
    skipped: list[str] = field(default_factory=list)  # enabled, but no hash of their key yet: rotate their key


def _quoted(value: str) -> str:
    # A JSON string is a valid NATS configuration string; quoting also keeps `$` of bcrypt hashes from being
    # read as a variable reference.
    return orjson.dumps(value).decode()


def _list(values: list[str]) -> str:
    return "[" + ", ".join(_quoted(v) for v in values) + "]"


def _user(name: str, password_hash: str, *, publish: list[str], subscribe: list[str]) -> str:
    """One user of the block: what it may publish on and subscribe to, nothing else."""
    return (f"    {{user: {_quoted(name)}, password: {_quoted(password_hash)}, permissions: "
            f"{{publish: {{allow: {_list(publish)}}}, subscribe: {{allow: {_list(subscribe)}}}}}}}")


def authorization(worker_user: str, worker_password: str, *, now: dt.datetime | None = None) -> NatsAuthorization:
    """The authorization block for the enabled sources and the worker user (whose password is hashed here)."""
    prefix, stream = conf.get("KHIEN_NATS_SUBJECT_PREFIX"), conf.get("KHIEN_NATS_STREAM")
    result = NatsAuthorization(text="")
    users = [_user(worker_user, nats_password_hash(worker_password, WORKER_COST), publish=[">"], subscribe=[">"])]
    for source in AlertSource.objects.filter(enabled=True).order_by("name"):
        if not source.nats_password_hash:
            result.skipped.append(source.name)
            continue
        result.sources.append(source.name)
        users.append(_user(source.name, source.nats_password_hash,
                           publish=[f"{prefix}.{source.name}", f"$JS.API.STREAM.INFO.{stream}"], subscribe=["_INBOX.>"]))
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    result.text = (f"# Written by `khien telemetry nats-config` at {stamp}: {len(result.sources)} sources.\n"
                   "# Include it in nats-server.conf and reload the server (nats-server --signal reload).\n"
                   "authorization {\n  users = [\n" + "\n".join(users) + "\n  ]\n}\n")
    return result
