"""The user guide inside the platform (/guide/): the repository's docs/user-guide pages, readable without
Internet access, in the reader's language, for signed-in users; nothing outside the guide's folder is ever read."""
import os
import re
import time
from html import unescape

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from khien.core import guide

REPO_GUIDE = django_settings.BASE_DIR / "docs" / "user-guide"


def reader(client, user, language):
    client.force_login(user)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
    return client


def text(response) -> str:
    return unescape(re.sub(r"<[^>]+>", "", response.content.decode()))


def first_heading(name: str) -> str:
    return next(line[2:].strip() for line in (REPO_GUIDE / name).read_text().splitlines() if line.startswith("# "))


@pytest.fixture
def own_guide(tmp_path, settings):
    """A guide folder of the test's own, with the platform's setting pointing at it."""
    folder = tmp_path / "user-guide"
    folder.mkdir()
    settings.GUIDE_DIR = str(folder)
    return folder


def test_signed_out_readers_are_sent_to_sign_in(client):
    for url in ("/guide/", "/guide/soc-connect/"):
        answer = client.get(url)
        assert answer.status_code == 302 and answer["Location"].startswith(reverse("core:login")), url


@pytest.mark.parametrize("language", ["en", "vi"])
def test_the_index_lists_every_page_titled_by_its_first_heading(client, world, language):
    answer = reader(client, world.analyst, language).get("/guide/")
    assert answer.status_code == 200
    page = answer.content.decode()
    slugs = sorted({name.split(".")[0] for name in os.listdir(REPO_GUIDE) if name.endswith(".md")})
    assert len(slugs) >= 9
    for slug in slugs:
        assert f'href="/guide/{slug}/"' in page, slug
        assert first_heading(f"{slug}.{language}.md") in text(answer), slug
    # in reading order: the registry first, the SOC's pages last
    assert page.index("/guide/registry/") < page.index("/guide/incidents/") < page.index("/guide/soc-connect/")


def test_a_page_is_rendered_in_the_readers_language_inside_the_layout(client, world):
    english = reader(client, world.analyst, "en").get("/guide/soc-connect/")
    assert english.status_code == 200
    page = english.content.decode()
    assert 'class="topbar"' in page and 'id="usermenu-guide"' in page  # the platform's layout
    assert first_heading("soc-connect.en.md") in text(english)
    assert '<article class="guide card" id="guide-article" lang="en">' in page
    assert "<pre><code" in page  # fenced code
    # every heading has an anchor and a link to itself
    assert re.search(r'<h2 id="[a-z0-9-]+">[^<]+<a class="headerlink" href="#[a-z0-9-]+" title="Link to this section">',
                     page)
    # links between pages lead to the guide's own addresses; the other language's file to its version
    assert 'href="/guide/telemetry/"' in page and "telemetry.en.md\"" not in page
    assert 'href="/guide/soc-connect/?lang=vi"' in page

    vietnamese = reader(client, world.analyst, "vi").get("/guide/soc-connect/")
    assert first_heading("soc-connect.vi.md") in text(vietnamese)
    assert 'lang="vi"' in vietnamese.content.decode()


def test_tables_text_in_angle_brackets_and_links_out_of_the_guide(client, world):
    page = reader(client, world.analyst, "en").get("/guide/registry/").content.decode()
    assert "<table>" in page and "<th>" in page  # Markdown tables
    assert "&lt;organization&gt;" in page  # prose, not swallowed as HTML
    # docs/api.md is not part of the guide: the words stay, the link (which would lead nowhere) goes
    assert "../api.md" not in page and "docs/api.md" in text(reader(client, world.analyst, "en").get("/guide/registry/"))
    assert 'href="/guide/incidents/"' in page


def test_heading_anchors_are_ascii_in_vietnamese(client, world):
    assert guide.heading_anchor("Đăng ký nguồn và khóa") == "dang-ky-nguon-va-khoa"
    page = reader(client, world.analyst, "vi").get("/guide/soc-connect/").content.decode()
    ids = re.findall(r'<h[2-4] id="([^"]+)"', page)
    assert ids and all(re.fullmatch(r"[a-z0-9_-]+", anchor) for anchor in ids), ids
    assert len(ids) == len(set(ids))


def test_a_page_missing_in_the_readers_language_is_shown_in_the_other_with_a_note(client, world, own_guide):
    (own_guide / "only-vi.vi.md").write_text("# Chỉ tiếng Việt\n\n*Dành cho người thử. Bản tiếng Anh: chưa có.*\n\nNội dung.\n")
    (own_guide / "both.vi.md").write_text("# Cả hai\n\nNội dung.\n")
    (own_guide / "both.en.md").write_text("# Both\n\nContent.\n")
    client = reader(client, world.analyst, "en")
    index = client.get("/guide/")
    assert "Chỉ tiếng Việt" in text(index) and "in Vietnamese only" in text(index) and "Both" in text(index)
    assert "Dành cho người thử." in text(index)  # the audience line, first sentence
    answer = client.get("/guide/only-vi/")
    assert answer.status_code == 200
    assert "This page has no English version yet: it is shown in Vietnamese." in text(answer)
    assert "Nội dung." in text(answer) and 'lang="vi"' in answer.content.decode()
    both = client.get("/guide/both/")
    assert "Content." in text(both) and "no English version" not in text(both)
    assert 'href="/guide/both/?lang=vi"' in both.content.decode()  # "Also in: Vietnamese"
    assert "Nội dung." in text(client.get("/guide/both/?lang=vi"))
    assert "Content." in text(client.get("/guide/both/?lang=../../etc"))  # a language that is not one: ignored


def test_unknown_pages_and_paths_out_of_the_folder_are_not_found(client, world, own_guide, tmp_path):
    (own_guide / "page.en.md").write_text("# Page\n")
    secret = tmp_path / "secret.en.md"
    secret.write_text("# SECRET-OUTSIDE\n")
    (own_guide / "outside.en.md").symlink_to(secret)  # a link in the folder to a file elsewhere
    (own_guide / "Upper.en.md").write_text("# UPPER\n")
    client = reader(client, world.analyst, "en")
    assert client.get("/guide/page/").status_code == 200
    for url in ("/guide/nothing-here/", "/guide/../secret/", "/guide/..%2Fsecret/", "/guide/%2e%2e%2fsecret/",
                "/guide/..%2F..%2Fkhien%2Fsettings/", "/guide/%2e%2e/", "/guide/..%5Csecret/", "/guide/outside/",
                "/guide/Upper/", "/guide/page.en/", "/guide/page.en.md/", "/guide/page%00/"):
        answer = client.get(url)
        assert answer.status_code in (400, 404), (url, answer.status_code)
        assert "SECRET-OUTSIDE" not in answer.content.decode() and "UPPER" not in answer.content.decode(), url
    index = text(client.get("/guide/"))
    assert "SECRET-OUTSIDE" not in index and "UPPER" not in index
    # the page of an unknown slug is the platform's own "not found" page
    assert "This page does not exist or you cannot see it." in text(client.get("/guide/nothing-here/"))


def test_a_server_without_the_guide_says_it_is_not_installed(client, world, settings, tmp_path):
    settings.GUIDE_DIR = str(tmp_path / "no-such-folder")
    client = reader(client, world.analyst, "en")
    index = client.get("/guide/")
    assert index.status_code == 200 and "The user guide is not installed on this server" in text(index)
    page = client.get("/guide/soc-connect/")
    assert page.status_code == 404 and "The user guide is not installed on this server" in text(page)


def test_no_images_and_no_raw_html(client, world, own_guide):
    (own_guide / "odd.en.md").write_text(
        "# Odd\n\n![a diagram](diagram.png) and <script>alert(1)</script>\n\n<div onclick=\"x()\">block</div>\n\n"
        "[run](javascript:alert(1)) [site](https://example.org/) [section](#odd)\n\n![](https://cdn.example/x.png)\n")
    page = reader(client, world.analyst, "en").get("/guide/odd/").content.decode()
    article = page[page.index('<article'):page.index('</article>')]
    assert "<img" not in article and "a diagram" in article
    assert "<script" not in article and "&lt;script&gt;" in article
    assert "<div onclick" not in article
    assert "javascript:" not in article and 'href="https://example.org/"' in article and 'href="#odd"' in article


def test_a_step_that_names_a_page_of_the_platform_links_it(client, world, own_guide):
    (own_guide / "steps.en.md").write_text(
        "# Steps\n\nOpen [Sources](/telemetry/sources/) or [your tokens](/me/tokens/#new); "
        "not [a file](/etc/passwd) nor [elsewhere](//evil.example/x).\n")
    page = reader(client, world.analyst, "en").get("/guide/steps/").content.decode()
    article = page[page.index('<article'):page.index('</article>')]
    assert 'href="/telemetry/sources/"' in article and 'href="/me/tokens/#new"' in article
    assert "/etc/passwd" not in article and "evil.example" not in article
    assert "a file" in article and "elsewhere" in article  # their words stay


def test_rendered_pages_are_kept_until_their_file_changes(client, world, own_guide):
    path = own_guide / "changing.en.md"
    path.write_text("# Changing\n\nFirst text.\n")
    client = reader(client, world.analyst, "en")
    assert "First text." in text(client.get("/guide/changing/"))
    hits = guide._render.cache_info().hits
    assert "First text." in text(client.get("/guide/changing/"))
    assert guide._render.cache_info().hits == hits + 1  # the second reading did not render again
    path.write_text("# Changing\n\nSecond text.\n")
    later = time.time() + 5
    os.utime(path, (later, later))
    assert "Second text." in text(client.get("/guide/changing/"))


def test_the_user_menu_links_to_the_guide(client, world):
    page = reader(client, world.analyst, "vi").get(reverse("core:notifications")).content.decode()
    assert '<a href="/guide/" id="usermenu-guide">' in page


def test_the_sources_page_links_to_the_soc_guide_by_its_one_name(client, world):
    from khien.telemetry import services as telemetry

    source, _key = telemetry.do_create_source(world.ministry, "soc-min", "suricata", acting_user=world.admin)
    client = reader(client, world.admin, "en")
    title = "Connecting a SOC to Khiên"
    assert first_heading("soc-connect.en.md").startswith(title)
    for url in (reverse("telemetry:sources"), reverse("telemetry:source", args=[source.name])):
        page = client.get(url).content.decode()
        assert 'href="/guide/soc-connect/"' in page and f">{title}</a>" in page, url
        assert "SOC operator guide" not in page and "SOC operators' guide" not in page, url
    assert client.get("/guide/soc-connect/").status_code == 200


def test_the_api_documentation_points_to_the_tokens_page_not_to_a_server_command(client, world):
    import yaml

    schema = yaml.safe_load(reader(client, world.analyst, "en").get(reverse("api-schema")).content)
    description = schema["info"]["description"]
    assert "/me/tokens/" in description and reverse("core:tokens") == "/me/tokens/"
    assert "/guide/" in description and "khien token EMAIL" not in description
