"""The OpenAPI schema: drf-spectacular's, plus the error answers each operation can give.

drf-spectacular lists only the success answer, so a client generated from the
schema knew nothing of the 400, 401, 403 and 404 every caller meets. They are
added here, from what the view itself says: who may call it, whether the path
names an object, whether it takes a body or query parameters. An answer an
operation declares itself (a 409 of a closed incident, a 422 of a bundle, a
429 of the intake: `refusal()`) is kept, and given the Error body when it was
declared with a description only.
"""
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import permissions, serializers

# The body of every refusal (`core.api.exceptions`): a message in the caller's language, and a code for programs.
ERROR_BODY = inline_serializer("Error", {
    "detail": serializers.CharField(help_text="What went wrong, in the caller's language (Accept-Language)."),
    "code": serializers.CharField(required=False, help_text="A stable code for programs, where the rule names one."),
})
# DRF's validation answer: each field with its messages (or a list, for a list body or one that is not an object).
VALIDATION_BODY = {
    "description": "Each field in error with its messages; `non_field_errors` or `detail` for the whole request.",
    "anyOf": [
        {"type": "object", "additionalProperties": {}},
        {"type": "array", "items": {}},  # messages, or one object of errors per item of a list body
    ],
}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}  # each may be refused by a rule: 400, nothing changed


def refusal(description: str) -> OpenApiResponse:
    """An error answer a view declares itself (409 in a closed state, 404 of an object its body names…)."""
    return OpenApiResponse(response=ERROR_BODY, description=description)


class PlatformAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None:
            for code, response in self._error_answers(operation).items():
                operation["responses"].setdefault(code, response)
            for code, response in operation["responses"].items():
                if code.startswith("4") and "content" not in response:  # declared with a description only
                    body = VALIDATION_BODY if code == "400" else ERROR_BODY
                    response["content"] = self._error(code, body, "")["content"]
        return operation

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # An optional e-mail (a contact left empty, a warning nobody acknowledged) is "": not `format: email`.
        if isinstance(field, serializers.EmailField) and (field.allow_blank or field.default == ""):
            schema = {"anyOf": [schema, {"type": "string", "maxLength": 0}]}
        return schema

    def _error_answers(self, operation) -> dict:
        answers = {}
        takes_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
        if self.method in WRITES or takes_query:
            answers["400"] = self._error("400", VALIDATION_BODY, "The request is not valid; nothing was changed.")
        if self._needs_authentication():
            answers["401"] = self._error("401", ERROR_BODY, "No valid token or session.")
            answers["403"] = self._error("403", ERROR_BODY, "The caller's roles do not allow this.")
        if "{" in self.path and not getattr(self.view, "path_names_no_object", False):
            answers["404"] = self._error(
                "404", ERROR_BODY, "No such object, or one the caller may not see (other organizations' data).")
        return answers

    def _error(self, code: str, body, description: str):
        return self._get_response_for_code(OpenApiResponse(response=body, description=description), code)

    def _needs_authentication(self) -> bool:
        return not any(isinstance(p, permissions.AllowAny) for p in self.view.get_permissions())
