"""Responses compressed for slow links: a commune's phone on a weak mobile connection fetched the incident page's
74 KB of HTML (11 KB compressed) and 51 KB of htmx uncompressed. Text only — pages, JSON, CSV, CSS, scripts; files
that are already compressed (images, PDF, XLSX, archives, evidence) are sent as they are. Django's GZipMiddleware
adds random bytes to each compressed response against BREACH-style length guessing."""
from django.middleware.gzip import GZipMiddleware

COMPRESSED_TYPES = ("text/", "application/json", "application/javascript", "application/x-ndjson",
                    "application/taxii+json", "application/stix+json", "application/xml", "image/svg+xml")


class TextGZipMiddleware(GZipMiddleware):
    def process_response(self, request, response):
        content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
        if not content_type.startswith(COMPRESSED_TYPES):
            return response
        return super().process_response(request, response)
