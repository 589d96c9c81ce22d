"""`{{ obj.stix_type|stix_type_label }}`: a STIX type in the reader's language;
`{{ name|warninglist_label }}`: a warning list likewise; `{{ rel.relationship_type|relationship_label }}`: a
relationship type likewise; `{% stix_ref stix_id %}`: a referenced object by its name, linked, when the reader
may see it (else its id, as the object's STIX JSON shows it anyway)."""
from django import template
from django.urls import reverse
from django.utils.html import format_html

from khien.intel.models import relationship_label, stix_type_label
from khien.intel.warninglists import list_label

register = template.Library()
register.filter("stix_type_label", stix_type_label)
register.filter("warninglist_label", list_label)
register.filter("relationship_label", relationship_label)


@register.simple_tag(takes_context=True)
def stix_ref(context, stix_id):
    """A referenced STIX object as a link with its name and type, only through the reader's visible versions
    (`search.latest_visible`, which applies TLP): an object the reader may not see stays a bare id, unlinked."""
    from khien.intel import search

    if not isinstance(stix_id, str) or not stix_id:
        return ""
    request = context.get("request")
    user = getattr(request, "user", None)
    obj = search.latest_visible(user, stix_id) if user is not None and user.is_authenticated else None
    if obj is None:
        return format_html('<code class="small">{}</code>', stix_id)
    return format_html('<span class="stype">{}</span> <a href="{}">{}</a>', stix_type_label(obj.stix_type),
                       reverse("intel:object", args=[stix_id]), search.display_name(obj)[:140])
