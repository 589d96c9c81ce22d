"""An Elasticsearch-compatible intake: shippers that can send to Elasticsearch (rsyslog's omelasticsearch,
Logstash, Fluent Bit, Vector, Filebeat) send alerts to Khiên without a plug-in of their own.

Under /api/telemetry/elastic/: `POST _bulk` (or `<index>/_bulk`; PUT too) takes the bulk body — each
index/create action followed by its document, one record — and answers as Elasticsearch does (`errors`, one
item per action), so the shipper knows which documents were taken: a document that cannot be read (kept as a
dead letter) is answered as Elasticsearch answers one it cannot index, status 400 with the reason, which
shippers log and do not send again; `GET /`, `_cat/health` and `_cluster/health` answer
the checks those clients make before sending; every answer carries Elasticsearch's product header.
Authentication: HTTP Basic with the source's name as user and its key as password (or `ApiKey
base64(name:key)`, or `Token <key>` / `Bearer <key>`). Refused credentials are answered as Elasticsearch answers
them (`security_exception`, below), not with the JSON intake's `detail`. Limits, dead letters, idempotency and flow
control (429 with Retry-After, which these clients retry) are those of `POST /api/telemetry/alerts`.
"""
import time

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from khien.core.errors import Refused
from khien.core.notifications import platform_language

from .. import services
from ..batches import split_bulk
from ..parsers import reason_text
from .authentication import IsAlertSource, SourceBasicAuthentication, SourceKeyAuthentication
from .views import ingest_posted, read_batch_body, with_retry_after

# What the root answers: the version line clients read to choose their request format (bulk without types).
COMPATIBLE_VERSION = "8.11.0"
# The error type Elasticsearch gives a document it cannot read into its mapping (status 400): Logstash routes it
# to its dead letter queue or drops it with a warning, Filebeat drops it, rsyslog writes it to its errorfile (the
# shipped files: its retry ruleset leaves it) — none sends it again. The reason is the dead letter's, in the platform's language.
UNREADABLE_DOCUMENT = "mapper_parsing_exception"
# The error type of Elasticsearch's answer to credentials it refuses: 401 for a wrong user or password (with its
# `WWW-Authenticate` challenge, in the header and in the body), 403 for a user not allowed to write. Shippers know
# it: rsyslog (since mid-2025) suspends its action and retries, keeping the records queued; Logstash, Fluent Bit and
# Filebeat log an authentication failure and retry or drop as they do for Elasticsearch.
REFUSED_CREDENTIALS = "security_exception"
REFUSALS = (exceptions.NotAuthenticated, exceptions.AuthenticationFailed, exceptions.PermissionDenied)
# The error type of each document Elasticsearch cannot take while its write queue is full (status 429).
BUSY = "es_rejected_execution_exception"


def security_exception(response: Response, items: list | None = None) -> Response:
    """The refusal DRF built (`detail`, in the caller's language; `code` when it has one, as `source_disabled`)
    rewritten as Elasticsearch's body: {"error": {"root_cause": [...], "type", "reason"}, "status"}. For a bulk
    request, `errors` and `items` too: each action refused with the same status and reason (`refused_items`)."""
    reason = str(response.data.get("detail", ""))
    cause = {"type": REFUSED_CREDENTIALS, "reason": reason}
    if response.status_code == status.HTTP_401_UNAUTHORIZED and response.has_header("WWW-Authenticate"):
        cause["header"] = {"WWW-Authenticate": response["WWW-Authenticate"]}
    body = {"error": {"root_cause": [dict(cause)], **cause}, "status": response.status_code}
    if response.data.get("code"):  # kept beside Elasticsearch's fields: programs read it, as on the JSON intake
        body["code"] = str(response.data["code"])
    if items is not None:
        body.update(refused_whole(items, response.status_code, {"type": REFUSED_CREDENTIALS, "reason": reason}))
    response.data = body
    return response


def refused_whole(items: list[tuple[str, str]], status_code: int, error: dict) -> dict:
    """`errors` and `items` of a bulk request refused whole: each (action, index) refused with its status."""
    return {"errors": True, "items": [{action: {"_index": index_name, "status": status_code, "error": error}}
                                      for action, index_name in items]}


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
        response = with_retry_after(exc, super().handle_exception(exc))
        if isinstance(exc, REFUSALS) and response.status_code in (status.HTTP_401_UNAUTHORIZED,
                                                                  status.HTTP_403_FORBIDDEN):
            response = security_exception(response, self.refused_items())
        elif isinstance(exc, services.Busy):  # the intake's body and Retry-After, each action named refused too
            items = self.refused_items()
            if items is not None:
                error = {"type": BUSY, "reason": str(response.data.get("detail", ""))}
                response.data = {**response.data, "status": response.status_code,
                                 **refused_whole(items, response.status_code, error)}
        return response

    def refused_items(self) -> list[tuple[str, str]] | None:
        """The (action, index) of each action of a request refused whole; None: not a bulk request."""
        return None

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
                  401: OpenApiResponse(description="bad name or key (Elasticsearch's security_exception)"),
                  403: OpenApiResponse(description="the source is disabled (security_exception, code "
                                                   "source_disabled)"),
                  413: OpenApiResponse(description="batch too large"),
                  429: OpenApiResponse(description="busy; see Retry-After")}


class ElasticBulk(ElasticView):
    """POST an Elasticsearch bulk body as the authenticated source; the answer is Elasticsearch's."""

    def refused_items(self):
        """A bulk request refused whole (its credentials, or Khiên busy) names each of its actions refused, as
        Elasticsearch names the documents it could not index. rsyslog before mid-2025 (Debian 12's 8.2302) reads
        only the items, whatever the status: with them, the shipped file's retry ruleset takes the records back
        and sends them again until they are taken (without them it writes the batch to its errorfile and never
        sends it again). Read within the intake's limits, the actions only (the documents are not parsed); a body
        that cannot be read names none."""
        if self.request.method not in ("POST", "PUT"):
            return None
        try:
            bulk = split_bulk(read_batch_body(self.request), "", self.kwargs.get("index", "khien"))
        except Refused:
            return None
        return [(action, index_name) for action, index_name, _refusal in bulk.items]

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
