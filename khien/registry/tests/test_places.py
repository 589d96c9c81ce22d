"""Where an organization counts in the national figures (`registry.places`): the central agencies (bộ, ngành) by
the top of its line — a ministry or a political-system body, their units and the enterprises under them, wherever
their seat — else its own province. Every ministry has its seat in Hà Nội: counted by seat, the whole central
government would read as attacks on Hà Nội."""
import pytest
from django.utils import translation

from khien.conftest import _org
from khien.registry import places
from khien.registry.models import Organization, Province

pytestmark = pytest.mark.django_db


def _province(code, vi, en):
    return Province.objects.get_or_create(code=code, defaults={"name_vi": vi, "name_en": en, "kind": "city",
                                                               "region": "north"})[0]


@pytest.fixture
def tree(db):
    hanoi = _province("01", "Thành phố Hà Nội", "Hanoi")
    hcm = _province("79", "Thành phố Hồ Chí Minh", "Ho Chi Minh City")
    ministry = _org("T-MIN", "ministry", province=hanoi)
    orgs = {
        "T-MIN": ministry,
        "T-MIN-D1": _org("T-MIN-D1", "agency", parent=ministry, province=hanoi),
        # An enterprise under the ministry, seated in another province: the ministry's line all the same.
        "T-MIN-SOE": _org("T-MIN-SOE", "soe", parent=ministry, province=hcm),
        "T-PARTY": _org("T-PARTY", "political", province=hanoi),
    }
    committee = _org("T-UBND-01", "province", province=hanoi)
    orgs["T-UBND-01"] = committee
    orgs["T-UBND-01-SO"] = _org("T-UBND-01-SO", "agency", parent=committee, province=hanoi)
    orgs["T-BANK"] = _org("T-BANK", "enterprise", province=hcm)  # a company on its own: where it is
    orgs["T-NOWHERE"] = _org("T-NOWHERE", "enterprise")  # no province recorded
    return orgs


def test_the_top_of_the_line_decides_central_else_the_province(tree):
    codes = [code for code in tree]
    placed = dict(Organization.objects.filter(code__in=codes).annotate(place=places.place_of())
                  .values_list("code", "place"))
    assert placed == {
        "T-MIN": places.CENTRAL, "T-MIN-D1": places.CENTRAL, "T-MIN-SOE": places.CENTRAL,
        "T-PARTY": places.CENTRAL,
        "T-UBND-01": "01", "T-UBND-01-SO": "01",
        "T-BANK": "79", "T-NOWHERE": None,
    }


def test_the_organizations_of_a_place_are_those_it_counts(tree):
    def codes(place):
        return set(places.organizations_in(place).filter(code__in=list(tree)).values_list("code", flat=True))

    assert codes(places.CENTRAL) == {"T-MIN", "T-MIN-D1", "T-MIN-SOE", "T-PARTY"}
    # Hà Nội is its own province's organizations, not the ministries seated there.
    assert codes("01") == {"T-UBND-01", "T-UBND-01-SO"}
    assert codes("79") == {"T-BANK"}
    assert codes("nowhere") == set()


def test_the_choices_offer_the_central_agencies_first_then_the_provinces(tree):
    with translation.override("en"):
        choices = places.choices()
        assert choices[0] == (places.CENTRAL, "Central agencies")
        hanoi = Province.objects.get(code="01")
        assert ("01", hanoi.name) in choices and len(choices) == Province.objects.count() + 1
        assert places.label(places.CENTRAL) == "Central agencies" and places.label("01") == hanoi.name
        assert places.label(None) == "No province"
    assert places.codes()[0] == places.CENTRAL and "01" in places.codes()
