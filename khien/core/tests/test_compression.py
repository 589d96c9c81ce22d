"""Pages, JSON, CSS and scripts travel compressed when the browser accepts it (a commune's phone on a weak
link); files that are already compressed do not, and what arrives is exactly what was sent."""
import gzip

from django.test import Client


def _get(client, path, **headers):
    response = client.get(path, HTTP_ACCEPT_ENCODING="gzip, deflate", **headers)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_a_page_is_sent_compressed_and_reads_the_same(world, as_user):
    client = as_user(world.analyst)
    plain = client.get("/incidents/").content
    response, body = _get(client, "/incidents/")
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    html = gzip.decompress(body)
    assert len(body) < len(html) / 2
    # The same page, but for its per-request parts (the CSRF token), as the one sent uncompressed.
    assert html.count(b"<tr") == plain.count(b"<tr") and b"</html>" in html


def test_scripts_and_styles_are_compressed(db):
    for path in ("/static/khien/khien.css", "/static/khien/khien.js"):
        response, body = _get(Client(), path)
        assert response.status_code == 200, path
        assert response["Content-Encoding"] == "gzip", path
        assert gzip.decompress(body)


def test_api_json_is_compressed_and_a_client_that_does_not_ask_gets_it_plain(world, api):
    client = api(world.analyst)
    response = client.get("/api/registry/organizations/", HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"
    assert b'"count"' in gzip.decompress(response.content)
    plain = client.get("/api/registry/organizations/")
    assert not plain.has_header("Content-Encoding") and b'"count"' in plain.content


def test_already_compressed_files_are_sent_as_they_are(db):
    response, body = _get(Client(), "/static/khien/shield.svg")
    assert response["Content-Encoding"] == "gzip"  # SVG is text
    from khien.core.compression import TextGZipMiddleware
    from django.http import HttpResponse

    pdf = HttpResponse(b"%PDF-1.7 " + b"x" * 5000, content_type="application/pdf")
    out = TextGZipMiddleware(lambda r: pdf)(_request())
    assert not out.has_header("Content-Encoding") and out.content.startswith(b"%PDF")


def _request():
    from django.test import RequestFactory

    return RequestFactory().get("/", HTTP_ACCEPT_ENCODING="gzip")
