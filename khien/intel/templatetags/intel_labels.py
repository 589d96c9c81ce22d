"""`{{ obj.stix_type|stix_type_label }}`: a STIX type in the reader's language;
`{{ name|warninglist_label }}`: a warning list likewise."""
from django import template

from khien.intel.models import stix_type_label
from khien.intel.warninglists import list_label

register = template.Library()
register.filter("stix_type_label", stix_type_label)
register.filter("warninglist_label", list_label)
