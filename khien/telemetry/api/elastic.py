"""An Elasticsearch-compatible intake: shippers that can send to Elasticsearch (rsyslog's omelasticsearch,
Logstash, Fluent Bit, Vector, Filebeat) send alerts to Khiên without a plug-in of their own.

Under /api/telemetry/elastic/: `POST _bulk` (or `<index>/_bulk`; PUT too) takes the bulk body — each
index/create action followed by its document, one record — and answers as Elasticsearch does (`errors`, one
item per action), so the shipper knows which documents were taken: a document that cannot be read (kept as a
dead letter) is answered as Elasticsearch answers one it cannot index, status 400 with the reason, which
shippers log and do not send again; `GET /`, `_cat/health` and `_cluster/health` answer
the checks those clients make before sending; every answer carries Elasticsearch's product header.
Authentication: HTTP Basic with the source's name as user and its key as password (or `ApiKey
base64(name:key)`, or `Token <key>`). Limits, dead letters, idempotency and flow control (429 with Retry-After,
which these clients retry) are those of `POST /api/telemetry/alerts`.
"""
import time

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from khien.core.notifications import platform_language

from ..batches import split_bulk
from ..parsers import reason_text
from .authentication import IsAlertSource, SourceBasicAuthentication, SourceKeyAuthentication
from .views import ingest_posted, read_batch_body, with_retry_after

# What the root answers: the version line clients read to choose their request format (bulk without types).
COMPATIBLE_VERSION = "8.11.0"
# The error type Elasticsearch gives a document it cannot read into its mapping (status 400): Logstash routes it
# to its dead letter queue or drops it with a warning, Filebeat drops it, rsyslog writes it to its errorfile —
# none sends it again. The reason is the dead letter's, in the platform's language.
UNREADABLE_DOCUMENT = "mapper_parsing_exception"


class AnswerInJson(BaseContentNegotiation):
    """Elasticsearch's own clients ask for `application/vnd.elasticsearch+json; compatible-with=8` (and send
    `…+x-ndjson`): JSON is the answer, whatever they name — DRF's negotiation refused them with 406."""

    def select_parser(self, request, parsers):
        return None  # the views read the raw body

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ElasticView(APIView):
    authentication_classes = [SourceBasicAuthentication, SourceKeyAuthentication]
    permission_classes = [IsAlertSource]
    parser_classes: list = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnswerInJson
    throttle_classes: list = []
    path_names_no_object = True  # {index} is whatever name the shipper writes to: never a 404 (core.api.schema)

    def handle_exception(self, exc):
        return with_retry_after(exc, super().handle_exception(exc))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Elasticsearch's clients (7.14 and later) refuse a successful answer without it ("not Elasticsearch").
        response["X-Elastic-Product"] = "Elasticsearch"
        return response


class ElasticRoot(ElasticView):
    """GET: the server description Elasticsearch clients read first."""

    @extend_schema(responses={200: OpenApiResponse(description="Elasticsearch-style server description")})
    def get(self, request):
        return Response({"name": "khien", "cluster_name": "khien", "tagline": "Khiên telemetry intake",
                         "version": {"number": COMPATIBLE_VERSION, "build_flavor": "default",
                                     "minimum_wire_compatibility_version": "7.17.0"}})

    def head(self, request):
        return Response(status=status.HTTP_200_OK)


class ElasticClusterHealth(ElasticView):
    """GET: the cluster health that Vector's and Elasticsearch's clients ask for: green while the intake takes
    alerts."""

    @extend_schema(responses={200: OpenApiResponse(description="Elasticsearch-style cluster health")})
    def get(self, request):
        return Response({"cluster_name": "khien", "status": "green", "timed_out": False, "number_of_nodes": 1,
                         "number_of_data_nodes": 1})


class ElasticHealth(ElasticView):
    """GET: "green" while the intake takes alerts (rsyslog checks it before sending)."""

    @extend_schema(responses={200: OpenApiResponse(description="green")})
    def get(self, request):
        if request.query_params.get("format") == "json":
            return Response([{"status": "green", "cluster": "khien"}])
        return HttpResponse(b"green\n", content_type="text/plain")


BULK_RESPONSES = {200: OpenApiResponse(description="Elasticsearch bulk answer: errors, items (an unreadable "
                                                   "document: status 400, error mapper_parsing_exception)"),
                  400: OpenApiResponse(description="unreadable action line"),
                  401: OpenApiResponse(description="bad name or key"),
                  413: OpenApiResponse(description="batch too large"),
                  429: OpenApiResponse(description="busy; see Retry-After")}


class ElasticBulk(ElasticView):
    """POST an Elasticsearch bulk body as the authenticated source; the answer is Elasticsearch's."""

    @extend_schema(operation_id="telemetry_elastic_bulk", request={"application/x-ndjson": {"type": "string"}},
                   responses=BULK_RESPONSES)
    def post(self, request, index: str = "khien"):
        started = time.monotonic()
        source = request.auth
        bulk = split_bulk(read_batch_body(request), source.format, index)
        # The documents' records are in bulk.records in the order of their actions: place n is the n-th document.
        unreadable = dict(ingest_posted(source, bulk.records).rejected) if bulk.records else {}
        items = []
        place = 0
        for action, index_name, refusal in bulk.items:
            if refusal:
                items.append({action: {"_index": index_name, "status": 400,
                                       "error": {"type": "illegal_argument_exception", "reason": refusal}}})
                continue
            place += 1
            if place in unreadable:  # kept as a dead letter, but not stored: the shipper must count it as failed
                with platform_language():
                    reason = reason_text(unreadable[place])
                items.append({action: {"_index": index_name, "status": 400,
                                       "error": {"type": UNREADABLE_DOCUMENT, "reason": reason}}})
            else:  # stored as an event, or found already stored (a retry): taken
                items.append({action: {"_index": index_name, "result": "created", "status": 201}})
        return Response({"took": int((time.monotonic() - started) * 1000),
                         "errors": any(next(iter(item.values()))["status"] >= 300 for item in items), "items": items})

    @extend_schema(operation_id="telemetry_elastic_bulk_put", request={"application/x-ndjson": {"type": "string"}},
                   responses=BULK_RESPONSES)
    def put(self, request, index: str = "khien"):
        """The same as POST: Elasticsearch takes both, and its Python client sends bulk bodies with PUT."""
        return self.post(request, index)


class ElasticIndexBulk(ElasticBulk):
    """POST an Elasticsearch bulk body to `<index>/_bulk` (the index is only echoed back)."""

    @extend_schema(operation_id="telemetry_elastic_index_bulk",
                   request={"application/x-ndjson": {"type": "string"}}, responses=BULK_RESPONSES)
    def post(self, request, index: str = "khien"):
        return super().post(request, index)

    @extend_schema(operation_id="telemetry_elastic_index_bulk_put",
                   request={"application/x-ndjson": {"type": "string"}}, responses=BULK_RESPONSES)
    def put(self, request, index: str = "khien"):
        return self.post(request, index)
