"""Binary COPY of NumPy columns round-trips through a real PostgreSQL."""

import numpy as np
import pytest
from django.db import connection

from web.pgcopy import binary_copy_buffer, copy_columns, unix_seconds_to_timestamptz

pytestmark = pytest.mark.django_db


def test_binary_copy_round_trips_every_supported_type():
    """Values written with binary COPY read back unchanged, timestamps included."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE t (a smallint, b integer, c bigint, d real, e double precision, f timestamptz)"
        )
        columns = {
            "a": np.array([1, -2], dtype=np.int16),
            "b": np.array([2**31 - 1, 0], dtype=np.int32),
            "c": np.array([2**40, -1], dtype=np.int64),
            "d": np.array([0.5, 4.5], dtype=np.float32),
            "e": np.array([1e-9, 3.25]),
            "f": unix_seconds_to_timestamptz(np.array([964982703, 0])),
        }
        types = {"a": "smallint", "b": "integer", "c": "bigint", "d": "real", "e": "double precision", "f": "timestamptz"}
        assert copy_columns(cursor.cursor, "t", columns, types) == 2
        cursor.execute("SELECT a, b, c, d, e, extract(epoch FROM f)::bigint FROM t ORDER BY a DESC")
        assert cursor.fetchall() == [(1, 2**31 - 1, 2**40, 0.5, 1e-9, 964982703), (-2, 0, -1, 4.5, 3.25, 0)]


def test_binary_copy_refuses_unequal_columns():
    """Columns of different lengths are refused with their lengths named."""
    with pytest.raises(ValueError, match="equal lengths"):
        binary_copy_buffer({"a": np.zeros(2), "b": np.zeros(3)}, {"a": "real", "b": "real"})
