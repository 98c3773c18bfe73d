"""405 before 401/403: a method the endpoint does not offer is refused before the caller is asked who they are."""

from __future__ import annotations

from rest_framework.exceptions import MethodNotAllowed


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
