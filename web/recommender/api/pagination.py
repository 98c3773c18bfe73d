from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class Pages(PageNumberPagination):
    """``?page=2&page_size=50``: 50 per page by default, at most 200.

    A malformed ``page`` or ``page_size`` (or one over the maximum) is a 400
    naming it, not DRF's 404 "Invalid page." or a silent clamp; a page past
    the last one is a 404 that says so.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    invalid_page_message = "No page {page_number}: {message}."

    def paginate_queryset(self, queryset, request, view=None):
        errors = {}
        page = request.query_params.get(self.page_query_param)
        if page is not None and page not in self.last_page_strings and not _whole_number(page, 1):
            errors[self.page_query_param] = ["Expected a whole number from 1 (the first page), or 'last'."]
        size = request.query_params.get(self.page_size_query_param)
        if size is not None and not _whole_number(size, 1, self.max_page_size):
            errors[self.page_size_query_param] = [f"Expected a whole number from 1 to {self.max_page_size}."]
        if errors:
            raise ValidationError(errors)
        return super().paginate_queryset(queryset, request, view)


def _whole_number(text: str, low: int, high: int | None = None) -> bool:
    return text.isascii() and text.isdigit() and int(text) >= low and (high is None or int(text) <= high)
