"""Periodic jobs of the intelligence hub (run by `khien worker`)."""
import datetime as dt

from khien.core.jobs import periodic

from . import federation


@periodic("intel.federation_pull", every=dt.timedelta(minutes=1))
def pull_subscriptions(now) -> str | None:
    """Pull the due federation subscriptions (each has its own interval)."""
    pulled = federation.pull_due(now)
    if not pulled:
        return None
    return ", ".join(f"{sub.name}: {sub.last_status} ({sub.last_count})" for sub in pulled)


@periodic("intel.taxii_resume", every=dt.timedelta(minutes=1))
def resume_taxii_submissions(now) -> str | None:
    """Run again the large TAXII submissions whose processing stopped with a restart of the web process."""
    from . import services

    handled = services.resume_stale_submissions(now)
    return ", ".join(handled) if handled else None


@periodic("intel.warning_deadlines", every=dt.timedelta(minutes=5))
def tell_missed_warning_deadlines(now) -> str | None:
    """Tell each sender once when a warning's reply deadline passes with target organizations still silent."""
    from . import services_warnings

    told = services_warnings.tell_senders_of_missed_deadlines(now)
    return f"{told} warnings past their deadline" if told else None
