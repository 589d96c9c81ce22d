"""`{% unwarned_organizations campaign as orgs %}`: on a campaign's page, the organizations it involves that its
early warning has not reached (`correlation.unwarned_organizations`), for the national coordinator who may send
the warning to them too; [] for anyone else and without a warning."""
from django import template

from khien.core.scoping import is_national_coordinator
from khien.telemetry import correlation

register = template.Library()


@register.simple_tag(takes_context=True)
def unwarned_organizations(context, campaign):
    request = context.get("request")
    user = getattr(request, "user", None)
    if campaign is None or getattr(campaign, "warning_id", None) is None or user is None \
            or not is_national_coordinator(user):
        return []
    return correlation.unwarned_organizations(campaign)
