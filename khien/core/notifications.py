"""Notifications: the one way a service tells people that something needs them.

`notify()` writes one in-app `Notification` per person, inside the caller's transaction
(a change that is rolled back announces nothing). E-mail follows: urgent items are sent
as soon as the transaction commits; the others wait for the periodic digest job, which
sends ONE e-mail per person listing everything new since the last digest — a SOC that
raises 500 hits in ten minutes produces one message, not 500.

A title or body given as a `khien.core.texts.Text` (a catalogue entry and its parameters) is kept untranslated as
well, and every page, API answer and e-mail writes it in its reader's language (e-mails: the language the person
chose with the switch, kept on the account, else the platform's).
Plain strings are stored as written, and shown as written: build them inside `with platform_language():` so
that they are in the platform's language (Vietnamese) whoever triggered the change.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _, ngettext

from .jobs import periodic
from .models import Notification, User
from .texts import ByLanguage, Text, lines  # noqa: F401  (callers write notifications.Text, notifications.lines …)

log = logging.getLogger(__name__)

TITLE_LIMIT = 300


def platform_language():
    """Context manager: texts built inside are in the platform's language."""
    return translation.override(settings.LANGUAGE_CODE)


def person_name(user) -> str:
    """Who did something, as a notice names them: the person's full name, else their e-mail address; the platform
    itself when no one did (a job, a command)."""
    if user is None:
        return "Khiên"
    return getattr(user, "full_name", "") or getattr(user, "email", "") or "Khiên"


def digest_interval() -> dt.timedelta:
    return dt.timedelta(seconds=int(getattr(settings, "KHIEN_NOTIFICATION_DIGEST_SECONDS", 300)))


def _users_of(recipients: Iterable, roles) -> list[User]:
    """Users named directly plus the active members of the organizations named (optionally by role)."""
    from khien.registry.models import Membership, Organization

    users: dict = {}
    org_ids = []
    for item in recipients:
        if isinstance(item, User):
            if item.is_active:
                users[item.pk] = item
        elif isinstance(item, Organization):
            org_ids.append(item.pk)
        elif item is not None:
            raise TypeError(f"notify(): a recipient must be a User or an Organization, not {type(item).__name__}")
    if org_ids:
        memberships = Membership.objects.filter(organization_id__in=org_ids, user__is_active=True).select_related("user")
        if roles:
            memberships = memberships.filter(role__in=[str(r) for r in roles])
        for m in memberships:
            users.setdefault(m.user_id, m.user)
    return list(users.values())


def notify(recipients: Iterable, *, kind: str, title: str | Text, body: str | Text = "", url: str = "",
           urgent: bool = False, roles=None) -> int:
    """Notify people; returns how many notifications were written (one per distinct person). `title` and `body`
    are plain text (stored and shown as given) or `Text`s (shown in each reader's language)."""
    users = _users_of(recipients, roles)
    if not users:
        return 0
    now = timezone.now()
    texts = {part: value.as_data() for part, value in (("title", title), ("body", body)) if isinstance(value, Text)}
    with platform_language():  # the stored text (and e-mails) in the platform's language
        title, body = str(title), str(body)
    rows = Notification.objects.bulk_create([
        Notification(recipient=u, kind=kind[:60], title=title[:TITLE_LIMIT], body=body, url=url[:500],
                     urgent=urgent, created_at=now, texts=texts or None)
        for u in users
    ])
    if urgent:
        ids = [row.pk for row in rows]
        transaction.on_commit(lambda: send_now(ids))
    return len(rows)


def unread_count(user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def mark_read(user, ids=None) -> int:
    """Mark some (or all) of one's own notifications read; returns how many changed."""
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())


# --- E-mail ----------------------------------------------------------------------------------------


def _link(n: Notification) -> str:
    """The notification's page as an absolute address for an e-mail ("" when it has none)."""
    return f"{getattr(settings, 'KHIEN_PUBLIC_URL', '').rstrip('/')}{n.url}" if n.url else ""


def _line(n: Notification) -> str:
    when = timezone.localtime(n.created_at).strftime("%d/%m/%Y %H:%M")
    text = f"- [{when}] {n.shown_title}"
    if n.url:
        text += f"\n  {_link(n)}"
    return text


def recipient_language(user: User) -> str:
    """The language written to `user` away from their browser: the one they chose with the switch, else the
    platform's."""
    chosen = getattr(user, "language", "") or ""
    return chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def _message(user: User, items: list[Notification]) -> EmailMessage:
    with translation.override(recipient_language(user)):
        if len(items) == 1:
            subject = _("[Khiên] %(title)s") % {"title": items[0].shown_title}
            body = "\n\n".join(filter(None, [items[0].shown_title, items[0].shown_body, _link(items[0])]))
        else:
            subject = ngettext("[Khiên] %(count)d new notification", "[Khiên] %(count)d new notifications",
                               len(items)) % {"count": len(items)}
            body = "\n".join([_("New since the last message:"), ""] + [_line(n) for n in items])
        body += "\n\n" + _("Open Khiên to see and mark your notifications.")
    return EmailMessage(subject.replace("\n", " ")[:250], body, settings.DEFAULT_FROM_EMAIL, [user.email])


def _send(queryset) -> int:
    """E-mail the pending notifications of `queryset`, one message per person; returns messages sent."""
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            queryset = queryset.select_for_update(skip_locked=True, of=("self",))
        pending = list(queryset.filter(emailed_at__isnull=True).select_related("recipient").order_by("created_at"))
        if not pending:
            return 0
        by_user: dict = defaultdict(list)
        for n in pending:
            by_user[n.recipient].append(n)
        messages = [_message(user, items) for user, items in by_user.items()]
        try:
            sent = get_connection().send_messages(messages) or 0
        except Exception:  # kept pending: the next digest tries again, nothing is lost
            log.exception("notification e-mail failed for %d people", len(messages))
            return 0
        Notification.objects.filter(pk__in=[n.pk for n in pending]).update(emailed_at=timezone.now())
    return sent


def send_now(ids) -> int:
    """Send urgent notifications at once (called after the commit that created them)."""
    return _send(Notification.objects.filter(pk__in=list(ids)))


def _emailed():
    """The notifications that go out by e-mail: all of them, but those not urgent for a person who asked for the
    urgent ones only (`User.email_notifications`), which stay in Khiên."""
    from .models import EmailNotifications

    return Notification.objects.exclude(urgent=False, recipient__email_notifications=EmailNotifications.URGENT)


@periodic("core.notification_digest", every=dt.timedelta(seconds=60))
def send_digests(now=None) -> str:
    """One e-mail per person for what is pending and at least one digest interval old (or urgent)."""
    now = now or timezone.now()
    due = _emailed().filter(created_at__lte=now - digest_interval()) | \
        _emailed().filter(urgent=True, created_at__lte=now)
    # A person's whole pending list goes out together once any item of theirs is due.
    users = due.filter(emailed_at__isnull=True).values("recipient_id").distinct()
    sent = _send(_emailed().filter(recipient_id__in=users, created_at__lte=now))
    return f"{sent} digest e-mail(s)"
