"""What every REST API view of the project shares, whichever app it is in: 405 before 401/403, the error body, and
conditional reads' schema.

The error body itself is made by ``web.recommender.api.errors.json_exception_handler``
(DRF's ``EXCEPTION_HANDLER`` in the settings); :class:`ErrorSerializer` documents it in the OpenAPI schema.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.exceptions import MethodNotAllowed

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match", str, OpenApiParameter.HEADER, required=False,
    description="The ETag of the answer the client holds: 304 while it is still the answer (docs/api.md, \"HTTP caching\").",
)
NOT_MODIFIED = {304: OpenApiResponse(description="Not Modified: the answer whose ETag was sent in If-None-Match is still current; no body.")}
"""A conditional read's request header and answer, for ``extend_schema``."""


class ErrorSerializer(serializers.Serializer):
    """Every API error: a message, the status, and for validation errors the messages per field."""

    error = serializers.CharField()
    status = serializers.IntegerField()
    fields = serializers.DictField(required=False)


class MethodsFirst:
    """Mix into a DRF view ahead of it: answer 405 (with ``Allow``) for a method the view has no handler for.

    DRF authenticates and checks permissions before it looks up the
    handler, so an anonymous ``PATCH`` of a rating was a 401 and a stranger's
    a 403, although no credentials would have made it work.
    """

    def initial(self, request, *args, **kwargs):
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)
