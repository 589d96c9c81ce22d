"""Asking before an action that cannot be undone, also without JavaScript.

A button that destroys or breaks something carries `data-confirm="question"` and `data-confirmed-field`: with
JavaScript, the browser's dialog asks and adds `confirmed=1` to the form (khien.js), so the question is asked once.
Without JavaScript the form arrives without `confirmed=1`; the view then answers with `ask_first(...)`: a page that
asks the same question and posts the same fields again with the consent. Nothing changes until then.

A view uses it as:

    if not confirmed(request):
        return ask_first(request, question=..., button=..., cancel_url=...)

Check the right to act first (or let the service refuse afterwards): whoever may not act is refused, not asked.
"""

from __future__ import annotations

from django.shortcuts import render

CONFIRMED_FIELD = "confirmed"


def confirmed(request) -> bool:
    """Whether the person already said yes (the dialog, or the confirmation page)."""
    return request.POST.get(CONFIRMED_FIELD) == "1"


def ask_first(request, *, question: str, button: str, cancel_url: str, title: str | None = None,
              note: str = "", action: str | None = None, extra_context: dict | None = None):
    """The confirmation page: `question`, then a form posting the same fields again to `action` (the same URL by
    default) with `confirmed=1`, and a way back (`cancel_url`)."""
    fields = [(name, value) for name, values in request.POST.lists() if name not in ("csrfmiddlewaretoken", CONFIRMED_FIELD)
              for value in values]
    context = {
        "confirm_title": title or button,
        "confirm_question": question,
        "confirm_note": note,
        "confirm_button": button,
        "confirm_action": action or request.get_full_path(),
        "confirm_fields": fields,
        "confirm_cancel_url": cancel_url,
        **(extra_context or {}),
    }
    return render(request, "core/confirm.html", context)
