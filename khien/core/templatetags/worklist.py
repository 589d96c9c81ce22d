"""`{% worklist_card %}`: the home page's "To do" card (core.worklist), for the signed-in person."""
from django import template

from khien.core import worklist

register = template.Library()


@register.inclusion_tag("core/_worklist.html", takes_context=True)
def worklist_card(context):
    return {"items": worklist.items_for(context["request"].user)}
