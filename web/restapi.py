"""What every REST API view of the project shares, whichever app it is in: 405 before 401/403, 411 for a body sent
without its length, a JSON parser that refuses any malformed body with a 400, the error body, and conditional reads'
schema and test.

The error body itself is made by ``web.recommender.api.errors.json_exception_handler``
(DRF's ``EXCEPTION_HANDLER`` in the settings); :class:`ErrorSerializer` documents it in the OpenAPI schema.
"""

from __future__ import annotations

from typing import BinaryIO

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from django.http import HttpRequest
from django.utils.cache import parse_etags
from rest_framework import parsers, serializers, status
from rest_framework.exceptions import APIException, MethodNotAllowed, ParseError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match", str, OpenApiParameter.HEADER, required=False,
    description="The ETag of the answer the client holds: 304 while it is still the answer (docs/api.md, \"HTTP caching\").",
)
NOT_MODIFIED = {304: OpenApiResponse(description="Not Modified: the answer whose ETag was sent in If-None-Match is still current; no body.")}
"""A conditional read's request header and answer, for ``extend_schema``."""


def matches(request: HttpRequest, etag: str, *, exists: bool) -> bool:
    """Whether the request's ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks for it).

    ``*`` names any current representation, so it matches only when the caller knows that one ``exists``: a 304 for
    an unknown user would say the client holds what is not there (RFC 9110 13.1.2; the answer must be the 404). A
    caller that has not looked yet passes False and, once it has a 200 to send, asks :func:`names_any`.
    """
    sent = _sent(request)
    return (exists and "*" in sent) or _opaque(etag) in {_opaque(tag) for tag in sent}


def names_any(request: HttpRequest) -> bool:
    """Whether the request's ``If-None-Match`` is ``*``: a 304 for any answer that would be a 200."""
    return "*" in _sent(request)


def _sent(request: HttpRequest) -> list[str]:
    header = request.META.get("HTTP_IF_NONE_MATCH")
    return parse_etags(header) if header else []


def _opaque(etag: str) -> str:
    return etag.removeprefix("W/")


class ErrorSerializer(serializers.Serializer):
    """Every API error: a message, the status, and for validation errors the messages per field."""

    error = serializers.CharField()
    status = serializers.IntegerField()
    fields = serializers.DictField(required=False)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser (every view's, ``DEFAULT_PARSER_CLASSES``), with a body nested too deeply a 400 as well.

    Python's json module recurses once per level of nesting and past about a thousand raises ``RecursionError``, not
    the ``ValueError`` DRF turns into its 400: ``[[[...]]]`` in a few kB was a 500 and a traceback in the log.
    """

    def parse(self, stream, media_type=None, parser_context=None):  # noqa: ANN001, ANN201 - DRF's signature
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc


class LengthRequired(APIException):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = ("The body was sent without a Content-Length (Transfer-Encoding: chunked): send it with its "
                      "length. Only POST /api/events streams a chunked body, as NDJSON (application/x-ndjson).")


def unframed_body(request: Request) -> BinaryIO | None:
    """The body of a request sent without a Content-Length (``Transfer-Encoding: chunked``), to read to its end; None
    for a request with a Content-Length or no body.

    Django reads a body only up to its Content-Length, so such a body reads
    as empty: a JSON write looked like ``{}`` and a chunked NDJSON stream of
    events like no events at all (200, nothing stored). The WSGI server
    (granian) ends a chunked body itself and says so with
    ``wsgi.input_terminated``; without that mark it cannot be read safely:
    :class:`LengthRequired`.
    """
    meta = request.META
    if meta.get("CONTENT_LENGTH") or not meta.get("HTTP_TRANSFER_ENCODING"):
        return None
    if not meta.get("wsgi.input_terminated"):
        raise LengthRequired()
    return meta["wsgi.input"]


class MethodsFirst:
    """Mix into a DRF view ahead of it: answer 405 (with ``Allow``) for a method the view has no handler for.

    DRF authenticates and checks permissions before it looks up the
    handler, so an anonymous ``PATCH`` of a rating was a 401 and a stranger's
    a 403, although no credentials would have made it work. After those
    checks, a body sent without its length is a 411 (:func:`unframed_body`)
    unless the view sets ``streams_unframed_bodies`` and reads it itself.
    """

    streams_unframed_bodies = False

    def initial(self, request, *args, **kwargs):
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)
        writes = request.method not in SAFE_METHODS  # a read's body is never read: no need to refuse one
        if writes and not self.streams_unframed_bodies and unframed_body(request) is not None:
            raise LengthRequired()
