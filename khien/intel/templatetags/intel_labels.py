"""`{{ obj.stix_type|stix_type_label }}`: a STIX type in the reader's language."""
from django import template

from khien.intel.models import stix_type_label

register = template.Library()
register.filter("stix_type_label", stix_type_label)
