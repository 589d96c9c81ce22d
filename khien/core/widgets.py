"""Form widgets shared by the apps' forms.

`CheckboxPicker`: a choice of several as checkboxes (the early warning's targets, the TLP:RED recipients, a
report's objects, an ISAC's members). It was the intelligence forms' own; the registry's ISAC form needs it too.
"""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import ngettext


class CheckboxPicker(forms.CheckboxSelectMultiple):
    """Several choices as checkboxes: a click ticks or unticks one and never drops the others (a plain click in a
    <select multiple> kept only the one clicked). The ticked ones come first under "Chosen (n)"; the others follow,
    in their group's folded box when the choices are grouped (`grouped_organization_choices`), else in one list;
    the count of those chosen is said in the list's own words (`count`). The field's name and values are a
    multi-select's, so the views, services and API read the same. A list of `FILTER_FROM` choices or more gets a
    filter box (fewer are all in sight). org-picker.js runs the filter, keeps the count current and moves a box
    to "Chosen (n)" as it is ticked (back to its place when unticked); without JavaScript every box is listed,
    without either, and the ticked ones are first after the form is shown again."""
    template_name = "core/widgets/checkbox_picker.html"
    option_template_name = "core/widgets/checkbox_picker_option.html"
    FILTER_FROM = 16  # the 13 sectors are all in sight at once; the 34 provinces are not
    LISTS_ORGANIZATIONS = False  # data-org-picker on the list: the organizations' (pages and tests find it)

    def __init__(self, attrs=None, choices=(), *, count, legend, placeholder=None, narrow=False):
        super().__init__(attrs, choices)
        self.count = count  # n -> "%(n)s … chosen" in the active language (ngettext)
        self.legend = legend  # the boxes' group name, the field's label: said by a screen reader on entering it
        self.placeholder = placeholder or _l("Filter by name")
        self.narrow = narrow  # short labels (a province): more columns

    def has_filter(self) -> bool:
        n = sum(len(group[1]) if isinstance(group[1], (list, tuple)) else 1 for group in self.choices)
        return n > 0 and n >= self.FILTER_FROM

    def id_for_label(self, id_, index=None):
        # The field's label names the filter box (the boxes are named by the group and their own labels).
        if index is None:
            return f"{id_}_filter" if id_ and self.has_filter() else ""
        return super().id_for_label(id_, index)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        chosen, groups, order = [], [], 0
        for group_name, options, _index in context["widget"]["optgroups"]:
            if group_name is None and groups and groups[-1]["name"] is None:
                group = groups[-1]  # choices without groups: one list (Django gives each one a group)
            else:
                group = {"name": group_name, "options": []}
                groups.append(group)
            for option in options:
                # Where a box goes back to when it is unticked (org-picker.js): its group and its rank there.
                option["home"], option["order"] = len(groups) - 1, order
                order += 1
                (chosen if option["selected"] else group["options"]).append(option)
        n = len(chosen)
        context["widget"].update({
            # A group whose every box is ticked is empty; it is kept, hidden, for a box unticked on the page.
            "chosen": chosen, "groups": groups, "total": order, "legend": self.legend, "narrow": self.narrow,
            "organizations": self.LISTS_ORGANIZATIONS,
            "filter": self.has_filter(), "placeholder": self.placeholder,
            "count_text": self.count(n) % {"n": n},
            # The count as org-picker.js writes it (the languages of the platform have at most two forms).
            "count_one": self.count(1), "count_other": self.count(2),
            "shown_label": _("%(shown)s of %(total)s shown"),
            "chosen_label": _("Chosen (%(n)s)"),
        })
        return context


def organizations_chosen(n):
    return ngettext("%(n)s organization chosen", "%(n)s organizations chosen", n)


class OrganizationPicker(CheckboxPicker):
    """Organizations, grouped by type (`grouped_organization_choices`): always a filter, by code or name."""
    FILTER_FROM = 0
    LISTS_ORGANIZATIONS = True

    def __init__(self, attrs=None, choices=(), *, legend=_l("Organizations")):
        # Short: the whole of it fits the box on a 360 px phone.
        super().__init__(attrs, choices, count=organizations_chosen, legend=legend,
                         placeholder=_l("Filter by code or name"))


def grouped_organization_choices(queryset) -> list:
    """The organizations of `queryset` as (type label, [(id, "CODE — name")]) groups, in the order of the types."""
    from khien.registry.models import OrgType  # the registry holds the organizations

    groups: dict[str, list] = {value: [] for value in OrgType.values}
    for org in queryset.order_by("code"):
        groups.setdefault(org.org_type, []).append((str(org.pk), f"{org.code} — {org.name}"))
    labels = dict(OrgType.choices)
    return [(str(labels.get(kind, kind)), options) for kind, options in groups.items() if options]
