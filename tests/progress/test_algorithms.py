"""The algorithm choices of the progress page's start form, as an operator reads them."""

import pytest

from web.progress.algorithms import catalogue

SOURCE_POINTERS = ("docstring", "module", "see below", "see above")


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_each_algorithms_summary_stands_on_the_page_without_the_source(name):
    """The summary is the tooltip of the form's choice: a sentence of its own, not a pointer into the code."""
    summary = catalogue()[name]["summary"]

    assert summary.endswith(".") and len(summary) > 20
    assert not any(pointer in summary.lower() for pointer in SOURCE_POINTERS), summary
