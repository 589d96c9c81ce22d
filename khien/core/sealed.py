"""Secrets the platform must itself send elsewhere (a partner TAXII server's password or token), kept sealed.

Passwords of people and keys given to senders are stored as hashes (they are only checked); a secret the
platform presents to another server cannot be hashed, so it is encrypted instead: a copy of the database or
of a backup then holds no usable partner credential without the platform's secret key.

Sealing is Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under a key derived from Django's
`SECRET_KEY` (HKDF-SHA256, a label of its own, so no other use of the secret key meets it). Values sealed under
a key listed in `SECRET_KEY_FALLBACKS` still open, so the secret key can be rotated: re-seal the secrets
(`khien reseal`) before dropping the old key. A stored value is `sealed:v1:<Fernet token>`; a value without
that prefix (written before sealing existed) is read as it is until it is sealed.
"""
from __future__ import annotations

import base64
import logging
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models, transaction

log = logging.getLogger(__name__)

PREFIX = "sealed:v1:"
_LABEL = b"khien sealed field v1"


class Unreadable(ValueError):
    """A sealed value that no configured key opens (the secret key changed without a fallback)."""


def _fernet_key(secret: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(secret.encode())
    return base64.urlsafe_b64encode(derived)


@lru_cache(maxsize=4)
def _sealer(secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    # The first key seals; every key opens.
    return MultiFernet([Fernet(_fernet_key(key)) for key in (secret_key, *fallbacks)])


def _current() -> MultiFernet:
    return _sealer(settings.SECRET_KEY, tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())))


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def seal(text: str) -> str:
    """The stored form of `text` ("" stays "": nothing to hide, and "no secret" stays visible as such)."""
    if not text:
        return ""
    return PREFIX + _current().encrypt(text.encode()).decode()


def unseal(stored: str) -> str:
    """The secret back from its stored form; a value stored before sealing existed comes back as it is."""
    if not stored or not is_sealed(stored):
        return stored or ""
    try:
        return _current().decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise Unreadable("sealed with a key this platform no longer has") from None


class SealedTextField(models.TextField):
    """A text column holding a sealed secret: the model sees the secret, the database only its sealed form.

    A value no configured key opens reads as "" (logged once per read, never the value): the owner is asked
    to enter the secret again instead of a page failing."""

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        try:
            return unseal(value)
        except Unreadable:
            log.warning("a sealed %s.%s value cannot be opened with the current SECRET_KEY or its fallbacks",
                        self.model.__name__ if hasattr(self, "model") else "?", self.name)
            return ""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or is_sealed(value):
            return value
        return seal(value)


@transaction.atomic
def do_reseal_all() -> dict[str, dict[str, int]]:
    """Seal again, under the current SECRET_KEY, every sealed column's values (`khien reseal`): after a key
    rotation (the old key in SECRET_KEY_FALLBACKS) and for values stored before sealing existed. Values no
    key opens are left as they are and counted. Returns {"app.Model.field": {"sealed": n, "unreadable": n}}."""
    from django.apps import apps
    from django.db.models.functions import Cast

    from khien.core import audit
    from khien.core.audit import Act

    report = {}
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if not isinstance(field, SealedTextField):
                continue
            counts = {"sealed": 0, "unreadable": 0}
            # The stored text itself (a plain TextField reads it without opening it).
            stored = model._default_manager.exclude(**{field.name: ""}).values_list(
                "pk", Cast(field.name, models.TextField()))
            for pk, text in stored:
                try:
                    secret = unseal(text)
                except Unreadable:
                    counts["unreadable"] += 1
                    continue
                model._default_manager.filter(pk=pk).update(**{field.name: secret})
                counts["sealed"] += 1
            report[f"{model._meta.label}.{field.name}"] = counts
    # One audit entry: the platform itself (the operator at the console) re-sealed, with the counts only.
    audit.record(Act.UPDATE, None, actor=None, object_type="core.sealed", object_id="reseal",
                 object_repr="secrets sealed again under the current SECRET_KEY", after=report)
    return report
