"""web.prepared: the hottest statements planned once per database connection, and again on a new one."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from web import prepared

pytestmark = pytest.mark.django_db(transaction=True)

SQL = "SELECT %s::integer + %s::integer"


def _prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


def _add(a: int, b: int) -> int:
    with connection.cursor() as cursor:
        prepared.execute(cursor, "test_add", SQL, [a, b])
        return cursor.fetchone()[0]


def test_placeholders_are_numbered_and_any_other_percent_refused():
    assert prepared.numbered("SELECT %s, %s FROM t WHERE a = %s") == ("SELECT $1, $2 FROM t WHERE a = $3", 3)
    with pytest.raises(ValueError, match="no '%'"):
        prepared.numbered("SELECT %s WHERE name LIKE 'a%%'")


def test_a_statement_is_prepared_once_per_connection_and_again_on_a_new_one():
    assert _add(1, 2) == 3
    assert "test_add" in _prepared_names()
    assert _add(40, 2) == 42  # EXECUTE of the same plan; a second PREPARE of the name would fail
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "force_generic_plan"

    connection.close()  # as after a database restart or CONN_MAX_AGE: a new session knows no statement
    assert _add(2, 2) == 4
    assert "test_add" in _prepared_names()


def test_a_rolled_back_transaction_keeps_the_statement_and_the_session_setting_stays_out_of_it():
    connection.close()
    with transaction.atomic():
        assert _add(1, 1) == 2
        with connection.cursor() as cursor:
            cursor.execute("SHOW plan_cache_mode")  # not set inside a transaction, whose rollback would undo it
            assert cursor.fetchone()[0] == "auto"
        transaction.set_rollback(True)
    assert _add(3, 4) == 7  # PREPARE is not undone by the rollback: EXECUTE finds it


def test_the_parameters_must_match_the_placeholders():
    with connection.cursor() as cursor, pytest.raises(ValueError, match="2 placeholders, 1 parameters"):
        prepared.execute(cursor, "test_add", SQL, [1])
