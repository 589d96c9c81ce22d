"""A list that fits on one page still says how many rows it holds (a count on the page, not by hand)."""

from django.urls import reverse


def test_a_one_page_list_says_its_total(world, as_user, make_system):
    for _ in range(3):
        make_system(world.ministry)
    make_system(world.province)  # another organization's: not counted for the ministry's administrator
    page = as_user(world.admin).get(reverse("registry:system_list")).content.decode()
    assert 'id="list-total">3 mục</p>' in page


def test_the_total_follows_the_filter_and_the_language(world, as_user, make_system):
    make_system(world.ministry, name="Cổng A")
    make_system(world.ministry, name="Kho B")
    client = as_user(world.admin)
    client.cookies["khien_language"] = "en"
    page = client.get(reverse("registry:system_list"), {"q": "Cổng"}).content.decode()
    assert 'id="list-total">1 item</p>' in page


def test_an_empty_list_says_so_once(world, as_user):
    page = as_user(world.admin).get(reverse("registry:system_list")).content.decode()
    assert 'id="list-total"' not in page
