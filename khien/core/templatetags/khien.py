from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def query_page(context, param, number):
    """The current query string with the page number `param` (one page of several lists on a page) set."""
    query = context["request"].GET.copy()
    query[param or "page"] = number
    return query.urlencode()


@register.simple_tag(takes_context=True)
def query_replace(context, **kwargs):
    """The current query string with some parameters replaced (keeps filters when paging)."""
    query = context["request"].GET.copy()
    for key, value in kwargs.items():
        query[key] = value
    return query.urlencode()
