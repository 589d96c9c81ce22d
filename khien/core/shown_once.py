"""A secret (a new API token, a source's new key) shown once after post/redirect/get.

The view that makes it keeps it in the session for the one page that shows it; that page takes it out, so a
reload neither posts again nor shows it again. It is never put in a URL or a log; the page that shows it is sent
with `Cache-Control: no-store` (`no_store`)."""


def keep(request, slot: str, secret: str, *, belongs_to="") -> None:
    """Keep `secret` in session `slot` for the page of `belongs_to` (an object's id; "" when the page is the user's)."""
    request.session[slot] = {"for": str(belongs_to), "secret": secret}


def take(request, slot: str, *, belongs_to="") -> str | None:
    """The secret waiting in `slot` for the page of `belongs_to`, removed from the session (None if none)."""
    waiting = request.session.get(slot)
    if not isinstance(waiting, dict) or waiting.get("for") != str(belongs_to):
        return None
    del request.session[slot]
    return waiting.get("secret")


def no_store(response):
    """The answer that shows a secret is kept by neither the browser nor a proxy."""
    response["Cache-Control"] = "no-store"
    return response
