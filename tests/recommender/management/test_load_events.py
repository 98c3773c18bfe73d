"""``manage.py load_events``: CSV and NDJSON back-fills with COPY, idempotent, malformed files refused by line."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import psycopg2
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
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


def test_an_undone_dismissal_loads(tmp_path, catalogue):
    """A back-fill may carry the undo of a dismissal, in CSV as in NDJSON (the checks take the same types)."""
    call_command("load_events", str(_csv(tmp_path, [f"c-ni,101,10,not_interested,,{WHEN}",
                                                    f"c-undo,101,10,not_interested_remove,,{WHEN}"])), verbosity=0)
    path = tmp_path / "events.ndjson"
    path.write_text(json.dumps({"event_id": "n-undo", "user_id": 102, "movie_id": 20, "type": "not_interested_remove",
                                "time": WHEN}) + "\n", encoding="utf-8")
    call_command("load_events", str(path), verbosity=0)
    assert sorted(Event.objects.values_list("event_id", "type")) == [
        ("c-ni", "not_interested"), ("c-undo", "not_interested_remove"), ("n-undo", "not_interested_remove")]


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


def test_an_ndjson_line_nested_too_deeply_is_named_as_malformed(tmp_path, catalogue):
    """json.loads raises RecursionError on it, not a ValueError: the command ended in a traceback naming no line."""
    path = tmp_path / "events.ndjson"
    path.write_text(json.dumps({"event_id": "a", "user_id": 101, "movie_id": 10, "type": "watched", "time": WHEN})
                    + "\n" + "[" * 5_000 + "]" * 5_000 + "\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"line 2: malformed JSON \(nested too deeply\)"):
        call_command("load_events", str(path))
    assert not Event.objects.exists()


def test_an_ndjson_event_id_with_a_lone_surrogate_is_named(tmp_path, catalogue):
    """JSON may spell half a UTF-16 pair ("\\ud800"): the line passed the checks and COPY failed to encode it, a
    traceback naming no line."""
    path = tmp_path / "events.ndjson"
    path.write_text(json.dumps({"event_id": "half\ud800pair", "user_id": 101, "movie_id": 10, "type": "watched",
                                "time": WHEN}) + "\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 1: event_id holds half of a UTF-16 surrogate pair"):
        call_command("load_events", str(path))
    assert not Event.objects.exists()


def test_a_file_with_quotes_or_blank_lines_loads_as_one_without(tmp_path, catalogue):
    """PostgreSQL copies a plain file as it is; one it would read otherwise (quotes, a blank line) is read in Python:
    the same events either way."""
    plain = [f"p1,101,10,watched,0.5,{WHEN}", f"p2,102,20,watchlist_add,,{WHEN}"]
    call_command("load_events", str(_csv(tmp_path, plain)), verbosity=0)
    stored = list(Event.objects.order_by("event_id").values_list("event_id", "user_id", "movie_id", "type", "fraction", "time"))
    Event.objects.all().delete()
    quoted = [f'"p1",101,10,"watched",0.5,"{WHEN}"', "", f"p2,102,20,watchlist_add,,{WHEN}"]
    call_command("load_events", str(_csv(tmp_path, quoted)), verbosity=0)
    assert list(Event.objects.order_by("event_id").values_list(
        "event_id", "user_id", "movie_id", "type", "fraction", "time")) == stored and len(stored) == 2


def test_values_in_other_forms_load_with_their_meaning(tmp_path, catalogue):
    """What the set-based check does not take as written goes through check_event: other forms of a number and a
    time are stored as the values they stand for; the columns may come in any order, with others beside them."""
    rows = ["a,2020-05-01T12:00:00+02:00,0.0,watched,10,101,x", "b,2020-05-01 10:00:00.250Z,1,watched,010,0101,y",
            "c,2020-05-01T10:00:00.5-01:30,.25,watched,20,101,z"]
    call_command("load_events", str(_csv(tmp_path, rows, header="event_id,time,fraction,type,movie_id,user_id,note")),
                 verbosity=0)
    events = {e.event_id: e for e in Event.objects.all()}
    assert events["a"].time.isoformat() == "2020-05-01T10:00:00+00:00" and events["a"].fraction == 0.0
    assert (events["b"].user_id, events["b"].movie_id, events["b"].fraction) == (101, 10, 1.0)
    assert events["b"].time.isoformat() == "2020-05-01T10:00:00.250000+00:00"
    assert events["c"].time.isoformat() == "2020-05-01T11:30:00.500000+00:00" and events["c"].fraction == 0.25


@pytest.mark.parametrize("bad", [
    "bad,101,10,watched,,2020-01-01T24:00:00Z",  # PostgreSQL reads 24:00 as the next midnight; Python refuses it
    "bad,101,10,watched,,2020-02-30T10:00:00Z",
    "bad,101,10,watched,,2020-01-01T10:00:00",  # no UTC offset
    "bad,101,10,watched,1.5,2020-01-01T10:00:00Z",
    "bad,101,10,not_interested,0.5,2020-01-01T10:00:00Z",
    "bad,101,10,watched,NaN,2020-01-01T10:00:00Z",
    "bad,+101,10,watched,,2020-01-01T10:00:00Z",
    "bad,101,2147483648,watched,,2020-01-01T10:00:00Z",
    " bad,101,10,watched,,2020-01-01T10:00:00Z",
])
def test_one_bad_line_among_many_good_ones_stores_nothing(tmp_path, catalogue, bad):
    good = [f"g{i},{101 + i % 30},{10 * (1 + i % 25)},watched,0.5,{WHEN}" for i in range(1_000)]
    with pytest.raises(CommandError, match="1 malformed lines; line 502: ") as refused:
        call_command("load_events", str(_csv(tmp_path, [*good[:500], bad, *good[500:]])))
    assert "Nothing was loaded" in str(refused.value) and not Event.objects.exists()


def test_a_refused_line_is_named_by_its_line_in_the_file_when_a_field_spans_lines(tmp_path, catalogue):
    rows = [f'"two\nlines",101,10,watched,,{WHEN}', f"ok,101,10,watched,,{WHEN}", "bad,101,10,liked,,2020-01-01T00:00:00Z"]
    with pytest.raises(CommandError, match="line 5: type"):
        call_command("load_events", str(_csv(tmp_path, rows)))


def test_a_backfill_stores_each_event_once_against_the_file_and_the_table(tmp_path, catalogue, capsys):
    call_command("load_events", str(_csv(tmp_path, [f"old,101,10,watched,,{WHEN}"])), verbosity=0)
    # The rows are inserted sorted by user: the first line of a repeated id wins all the same.
    rows = [f"old,102,20,watched,,{WHEN}", f"new,130,30,not_interested,,{WHEN}", f"new,104,40,watched,,{WHEN}",
            f"new,101,50,watched,,{WHEN}"]
    call_command("load_events", str(_csv(tmp_path, rows)))
    assert "4 events read, 1 stored, 3 already stored" in capsys.readouterr().out
    assert {(e.event_id, e.user_id) for e in Event.objects.all()} == {("old", 101), ("new", 130)}


@pytest.mark.parametrize("event_id", ["plain", '"quoted"'])
def test_a_column_the_header_repeats_counts_by_its_last_occurrence_either_way(tmp_path, catalogue, event_id):
    """As csv.DictReader reads it, whether PostgreSQL copies the file or Python reads it (a file with quotes)."""
    path = _csv(tmp_path, [f"{event_id},999,10,watched,{WHEN},101"], header="event_id,user_id,movie_id,type,time,user_id")
    call_command("load_events", str(path), verbosity=0)
    assert list(Event.objects.values_list("event_id", "user_id")) == [(event_id.strip('"'), 101)]


def test_an_event_another_writer_stores_during_the_load_counts_as_already_stored(tmp_path, catalogue, capsys):
    """Another transaction (the API) stores one of the file's event ids after the load looked for stored ones: the
    load's plain insert waits for it, collides once it commits, and is done again skipping it; nothing fails."""
    other = psycopg2.connect(**connection.get_connection_params())
    other.cursor().execute(f"INSERT INTO {Event._meta.db_table} (event_id, user_id, movie_id, type, time, received_at) "
                           f"VALUES ('race', 130, 250, 'not_interested', now(), now())")  # not committed yet
    waited = []

    def commit_once_the_load_waits() -> None:
        watcher = psycopg2.connect(**connection.get_connection_params())
        watcher.autocommit = True
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not waited:
            cursor = watcher.cursor()
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                           "AND datname = current_database()")
            waited.extend([True] if cursor.fetchone()[0] else [])
            time.sleep(0.05)
        watcher.close()
        other.commit()

    committer = threading.Thread(target=commit_once_the_load_waits)
    committer.start()
    call_command("load_events", str(_csv(tmp_path, [f"race,101,10,watched,,{WHEN}", f"mine,102,20,watched,,{WHEN}"])))
    committer.join()
    other.close()
    assert waited == [True]  # the load did wait for the other writer's row
    assert "2 events read, 1 stored, 1 already stored" in capsys.readouterr().out
    assert sorted(Event.objects.values_list("event_id", "user_id")) == [("mine", 102), ("race", 130)]


def test_a_backfilled_watch_leaves_the_served_list_and_its_etag_changes(tmp_path, client, published):
    """The read filter hides a back-filled watch at once, and the list's validator moves with it: a client holding
    the ETag gets the new list (not a 304), and a repeated read is not answered from the answer stored before."""
    url = "/api/users/101/recommendations?n=5"
    before = client.get(url)
    top = before.json()["recommendations"][0]["movie"]["movie_id"]
    call_command("load_events", str(_csv(tmp_path, [f"bf,101,{top},watched,,{WHEN}"])), verbosity=0)
    revalidated = client.get(url, HTTP_IF_NONE_MATCH=before["ETag"])
    assert revalidated.status_code == 200 and revalidated["ETag"] != before["ETag"]
    assert top not in [r["movie"]["movie_id"] for r in client.get(url).json()["recommendations"]]


# Named ids: WHEN is read from the clock, and test ids must be the same in every xdist worker that collects them.
@pytest.mark.parametrize(("name", "text"), [
    ("events.csv", f"event_id,user_id,movie_id,type,time\nbom,101,10,watched,{WHEN}\n"),
    ("events.csv", f'event_id,user_id,movie_id,type,time\n"bom",101,10,watched,{WHEN}\n'),  # read in Python, not COPY
    ("events.ndjson", json.dumps({"event_id": "bom", "user_id": 101, "movie_id": 10, "type": "watched", "time": WHEN})),
], ids=["csv", "csv-with-quotes", "ndjson"])
def test_a_file_that_begins_with_a_byte_order_mark_loads(tmp_path, catalogue, name, text):
    """What spreadsheets and Windows tools write first: the CSV header read 'missing event_id' and the NDJSON line
    'malformed JSON', although the API takes the same NDJSON line."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8-sig")
    call_command("load_events", str(path), verbosity=0)
    assert list(Event.objects.values_list("event_id", "user_id")) == [("bom", 101)]
