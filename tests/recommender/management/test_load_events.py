"""``manage.py load_events``: CSV and NDJSON back-fills with COPY, idempotent, malformed files refused by line."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from web.recommender.models import Event

WHEN = (timezone.now() - timedelta(days=1)).isoformat()


def _csv(tmp_path, rows: list[str], header: str = "event_id,user_id,movie_id,type,fraction,time"):
    path = tmp_path / "events.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_csv_file_loads_once_however_often_it_is_run(tmp_path, catalogue, capsys):
    path = _csv(tmp_path, [f"c1,101,10,watched,0.5,{WHEN}", f"c2,102,20,watchlist_add,,{WHEN}",
                           f"c1,103,30,watched,,{WHEN}"])
    call_command("load_events", str(path))
    assert "3 events read, 2 stored, 1 already stored" in capsys.readouterr().out
    call_command("load_events", str(path))
    assert "0 stored" in capsys.readouterr().out
    assert Event.objects.count() == 2
    first = Event.objects.get(event_id="c1")
    assert (first.user_id, first.movie_id, first.fraction) == (101, 10, 0.5)  # the first line of a repeated id wins


def test_an_ndjson_file_loads(tmp_path, catalogue):
    path = tmp_path / "events.ndjson"
    events = [{"event_id": f"n{i}", "user_id": 101, "movie_id": 10 * (i + 1), "type": "not_interested", "time": WHEN}
              for i in range(5)]
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n\n", encoding="utf-8")
    call_command("load_events", str(path), verbosity=0)
    assert sorted(Event.objects.values_list("event_id", flat=True)) == [f"n{i}" for i in range(5)]


@pytest.mark.parametrize(("rows", "expected"), [
    ([f"ok,101,10,watched,,{WHEN}", "bad,101,10,watched,,yesterday"], "line 3: time must be ISO 8601"),
    ([f"ok,101,10,watched,,{WHEN}", "bad,101,ten,watched,,2020-01-01T00:00:00Z"], "line 3: movie_id"),
    ([f"ok,101,10,watched,,{WHEN}", "bad,101,10,liked,,2020-01-01T00:00:00Z"], "line 3: type"),
    ([f"bad,101,10,watched,,{WHEN},extra"], "line 2: the line has a different number of fields"),
    (["old,101,10,watched,,1990-01-01T00:00:00Z"], "line 2: time 1990-01-01T00:00:00Z is before 1995"),
    ([f"ok,101,10,watched,,{WHEN}", f"unknown,101,99999,watched,,{WHEN}"], "line 3: unknown movie 99999"),
    ([f"nobody,7777,10,watched,,{WHEN}"], "line 2: unknown user 7777"),
])
def test_a_bad_line_refuses_the_file_by_line_and_stores_nothing(tmp_path, catalogue, rows, expected):
    with pytest.raises(CommandError, match=expected) as refused:
        call_command("load_events", str(_csv(tmp_path, rows)))
    assert "Nothing was loaded" in str(refused.value) and not Event.objects.exists()


def test_a_csv_without_the_columns_is_refused(tmp_path, catalogue):
    with pytest.raises(CommandError, match="line 1: the header must name"):
        call_command("load_events", str(_csv(tmp_path, ["1,2,3"], header="a,b,c")))


def test_a_malformed_ndjson_line_is_named(tmp_path, catalogue):
    path = tmp_path / "events.ndjson"
    path.write_text(json.dumps({"event_id": "a", "user_id": 101, "movie_id": 10, "type": "watched", "time": WHEN})
                    + "\n{broken\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 2: malformed JSON"):
        call_command("load_events", str(path))
    assert not Event.objects.exists()
