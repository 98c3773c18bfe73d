"""web/dbdeadline.py: a wait still running when its deadline passes is cut; the thread connects again afterwards.

A running server stands in for a stalled one here (``pg_sleep``): the cut acts on the client's socket, whatever the
server does; tests/reliability/test_faults_stall.py has the stopped server itself.
"""

import pytest
from django.db import OperationalError, connection

from web import dbdeadline

SLEEP = "SELECT pg_sleep(3)"
"""A wait far longer than the deadlines below; short enough that the server's side ends soon after the test."""


def _sleep() -> None:
    with connection.cursor() as cursor:
        cursor.execute(SLEEP)


def _select_one() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_wait_past_its_deadline_fails_and_the_next_query_connects_again():
    """The waiting query raises OperationalError once the deadline passes; the thread's next query works."""
    with dbdeadline.deadline(0.5):
        assert not dbdeadline.expired()
        with pytest.raises(OperationalError):
            _sleep()
        assert dbdeadline.expired()
        with pytest.raises(OperationalError):
            dbdeadline.require_time_left()
    connection.close()  # what Django does at the end of the request that saw the error
    assert _select_one() == 1


@pytest.mark.django_db(transaction=True)
def test_an_inner_deadline_never_outlasts_the_one_around_it():
    """A longer deadline inside a short one ends with the short one."""
    with dbdeadline.deadline(0.5), dbdeadline.deadline(60), pytest.raises(OperationalError):
        _sleep()
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_work_inside_its_deadline_is_untouched():
    """Queries that end in time keep their connection: nothing is cut after the block."""
    with dbdeadline.deadline(60):
        assert _select_one() == 1
        kept = connection.connection
    assert _select_one() == 1 and connection.connection is kept
