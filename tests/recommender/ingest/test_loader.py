"""Reading, validating and loading MovieLens folders (web.recommender.ingest), and the load command."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from tests.recommender.ingest.movielens_files import TINY, replace_line, write_set
from web.recommender.ingest import IngestError, load_movielens, read_movielens
from web.recommender.models import Movie, Rating, Tag

# -- helpers -------------------------------------------------------------------

def snapshot() -> dict[str, tuple[int, str]]:
    """Row count and an MD5 of every row (ids included) of the three tables."""
    out = {}
    with connection.cursor() as cursor:
        tables = (("recommender_movie", "movie_id"), ("recommender_rating", "id"), ("recommender_tag", "id"))
        for table, order in tables:
            rows = f"coalesce(string_agg(t::text, '|' ORDER BY t.{order}), '')"
            cursor.execute(f"SELECT count(*), md5({rows}) FROM {table} t")
            out[table] = cursor.fetchone()
    return out


# -- reading -------------------------------------------------------------------


def test_read_tiny_set_normalises_titles_years_genres_and_links(tmp_path):
    """Titles are stripped, years parsed (ranges give the first year), "(no genres listed)" becomes no genre."""
    data = read_movielens(write_set(tmp_path / "set"))
    movies = data.movies.set_index("movie_id")
    assert data.layout == "csv"
    assert movies.loc[2, "title"] == "American President, The (1995)"
    assert movies.loc[3, "title"] == "Heat (1995)" and movies.loc[3, "year"] == 1995
    assert pd.isna(movies.loc[4, "year"])
    assert movies.loc[5, "year"] == 2006 and movies.loc[5, "genres"] == ""
    assert movies.loc[1, "imdb_id"] == "0114709" and movies.loc[1, "tmdb_id"] == 862
    assert pd.isna(movies.loc[4, "tmdb_id"])
    assert (len(data.ratings), data.users, len(data.tags)) == (5, 3, 4)
    assert list(data.tags["tag"]) == ["pixar", "pixar", '"artsy"', "NA"]


def test_links_and_tags_are_optional(tmp_path):
    """A synthetic set without tags.csv and links.csv reads with empty ids and no tags."""
    folder = write_set(tmp_path / "set", {k: v for k, v in TINY.items() if k in ("movies.csv", "ratings.csv")})
    data = read_movielens(folder)
    assert data.tags.empty
    assert set(data.movies["imdb_id"]) == {""}


def test_folder_without_movielens_files_is_refused(tmp_path):
    """A folder with none of the known ratings files names the layouts it looked for."""
    with pytest.raises(IngestError, match="holds no MovieLens files; expected ratings.csv"):
        read_movielens(tmp_path)


def test_missing_movies_file_is_named(tmp_path):
    """ratings.csv without movies.csv is refused naming movies.csv."""
    folder = write_set(tmp_path / "set", {"ratings.csv": TINY["ratings.csv"]})
    with pytest.raises(IngestError, match=r"^movies.csv: file not found"):
        read_movielens(folder)


BAD_FILES = [
    # (file, line to replace or None for the whole file, new content, expected line, reason pattern)
    ("ratings.csv", 1, b"userId,movieId,score,timestamp", 1,
     r"expected the header 'userId,movieId,rating,timestamp', got 'userId,movieId,score,timestamp'"),
    ("ratings.csv", 3, b"1,abc,3.5,964981247", 3, r"movieId 'abc' is not an integer"),
    ("ratings.csv", 3, b"x1,2,3.5,964981247", 3, r"userId 'x1' is not an integer"),
    ("ratings.csv", 4, b"2,1,6.0,964982224", 4, r"rating 6\.0 is not one of 0\.5, 1\.0, \.\.\., 5\.0"),
    ("ratings.csv", 4, b"2,1,6,964982224", 4, r"rating 6\.0 is not one of"),
    ("ratings.csv", 4, b"2,1,0,964982224", 4, r"rating 0\.0 is not one of"),
    ("ratings.csv", 4, b"2,1,2.3,964982224", 4, r"rating 2\.3 is not one of"),
    ("ratings.csv", 4, b"2,1,NaN,964982224", 4, r"rating 'NaN' is not a number"),
    ("ratings.csv", 4, b"2,1,,964982224", 4, r"rating is empty"),
    ("ratings.csv", 5, b"1,1,3.0,964983815", 5, r"user 1 rated movie 1 already on line 2"),
    ("ratings.csv", 5, b"2,99,3.0,964983815", 5, r"movieId 99 is not in movies.csv"),
    ("ratings.csv", 5, b"0,3,3.0,964983815", 5, r"userId 0 is not a positive integer"),
    ("ratings.csv", 5, b"2,3,3.0,964983815.5", 5, r"timestamp '964983815.5' is not an integer"),
    ("ratings.csv", 5, b"2,3,3.0,-5", 5, r"timestamp -5 is not a Unix time"),
    ("ratings.csv", 2, b"1,1,4.0,964982703,7", 2, r"expected 4 fields separated by ',', got 5"),
    ("ratings.csv", 4, b"2,1,5.0,964982224,7", 4, r"expected 4 fields separated by ',', got 5"),
    ("ratings.csv", 4, b"", 4, r"empty line"),
    ("ratings.csv", None, b"", 1, r"file is empty; expected the header 'userId,movieId,rating,timestamp'"),
    ("ratings.csv", None, b"userId,movieId,rating,timestamp\r\n", 2, r"no records"),
    ("ratings.csv", None, b"userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,2,3.", 3,
     r"expected 4 fields separated by ',', got 3 \(the file ends in the middle of a record: truncated\?\)"),
    ("movies.csv", 3, b'2,"American President, The (1995)"', 3, r"expected 3 fields separated by ',', got 2"),
    ("movies.csv", 3, b"2,Caf\xe9 (1995),Comedy", 3, r"not valid UTF-8 \(byte 0xE9 at column 6\)"),
    ("movies.csv", 4, b"1,Heat (1995),Action", 4, r"movieId 1 already appears on line 2"),
    ("movies.csv", 4, b"3, ,Action", 4, r"title is empty"),
    ("movies.csv", 4, b"3,Heat (1995),Action|" + b"A" * 41, 4, r"a genre is longer than 40 characters"),
    ("tags.csv", 3, b"1,7,pixar,1445714994", 3, r"movieId 7 is not in movies.csv"),
    ("tags.csv", 3, b"1,1," + b"t" * 1001 + b",1445714994", 3, r"tag is 1001 characters long; at most 1000 fit"),
    ("tags.csv", 5, b"3,5,NA", 5, r"expected 4 fields"),
    ("links.csv", 3, b"2,tt0112346,9087", 3, r"imdbId 'tt0112346' is not a number"),
    ("links.csv", 3, b"9,0112346,9087", 3, r"movieId 9 is not in movies.csv"),
    ("links.csv", 3, b"2,0112346,-1", 3, r"tmdbId -1 is not a positive integer"),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("file", "line", "content", "expected_line", "reason"), BAD_FILES)
def test_bad_file_is_refused_with_file_line_and_reason_and_nothing_changes(
    tmp_path, file, line, content, expected_line, reason
):
    """Each defect names its file, the editor's line number and the reason, and the database is untouched."""
    load_movielens(write_set(tmp_path / "loaded"))
    before = snapshot()
    folder = write_set(tmp_path / "bad")
    if line is None:
        (folder / file).write_bytes(content)
    else:
        replace_line(folder / file, line, content)
    with pytest.raises(IngestError, match=rf"^{file} line {expected_line}: {reason}") as caught:
        load_movielens(folder)
    assert (caught.value.file, caught.value.line) == (file, expected_line)
    assert snapshot() == before


def test_line_numbers_count_newlines_inside_quoted_fields(tmp_path):
    """A quoted title spanning two lines shifts the line numbers of the records after it."""
    files = dict(TINY)
    files["movies.csv"] = [*TINY["movies.csv"][:2], '6,"Two\r\nLines (1990)",Drama', *TINY["movies.csv"][2:]]
    files["movies.csv"][4] = "3,Heat (1995),Action|" + "A" * 41  # physical line 5 + 1
    folder = write_set(tmp_path / "set", files)
    with pytest.raises(IngestError, match=r"^movies.csv line 6: a genre is longer"):
        read_movielens(folder)


@pytest.mark.parametrize("line", [2, 3, 4, 5, 6])
def test_bad_number_is_found_in_whichever_chunk_it_is(tmp_path, monkeypatch, line):
    """The chunked diagnosis of a large file finds the bad value at its line whatever chunk holds it."""
    from web.recommender.ingest import textfile

    monkeypatch.setattr(textfile, "_DIAGNOSE_ROWS", 2)
    folder = write_set(tmp_path / "set")
    replace_line(folder / "ratings.csv", line, b"9,?,3.0,964981247")
    with pytest.raises(IngestError, match=rf"^ratings.csv line {line}: movieId '\?' is not an integer"):
        read_movielens(folder)


def test_trailing_blank_lines_and_a_byte_order_mark_are_tolerated(tmp_path):
    """Blank lines after the last record and a UTF-8 BOM do not make a file invalid."""
    folder = write_set(tmp_path / "set")
    ratings = folder / "ratings.csv"
    ratings.write_bytes(ratings.read_bytes() + b"\r\n\r\n")
    movies = folder / "movies.csv"
    movies.write_bytes(b"\xef\xbb\xbf" + movies.read_bytes())
    data = read_movielens(folder)
    assert (len(data.movies), len(data.ratings)) == (5, 5)


def test_folder_that_is_not_a_folder_is_refused(tmp_path):
    """A path that does not exist is refused before anything is read."""
    with pytest.raises(IngestError, match="is not a folder"):
        read_movielens(tmp_path / "nope")


# -- loading -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_tiny_set_loads_with_its_values(tmp_path):
    """Movies, ratings and tags land with titles, years, genre arrays, links, values and UTC timestamps."""
    summary = load_movielens(write_set(tmp_path / "set"))
    assert (summary.movies, summary.ratings, summary.users, summary.tags) == (5, 5, 3, 4)
    assert (summary.movies_inserted, summary.ratings_inserted, summary.tags_inserted) == (5, 5, 4)
    movie = Movie.objects.get(pk=2)
    assert (movie.title, movie.year) == ("American President, The (1995)", 1995)
    assert movie.genres == ["Comedy", "Drama", "Romance"]
    assert Movie.objects.get(pk=5).genres == []
    assert (Movie.objects.get(pk=4).imdb_id, Movie.objects.get(pk=4).tmdb_id) == ("0105946", None)
    rating = Rating.objects.get(user_id=2, movie_id=3)
    assert rating.rating == 0.5 and rating.timestamp == datetime.fromtimestamp(964983815, tz=UTC)
    assert sorted(Tag.objects.values_list("tag", flat=True)) == ['"artsy"', "NA", "pixar", "pixar"]


@pytest.mark.django_db(transaction=True)
def test_reload_updates_changed_rows_and_keeps_the_apps_own_data(tmp_path):
    """A reload rewrites changed movies and ratings, adds new tags, and leaves other users' and newer ratings alone."""
    folder = write_set(tmp_path / "set")
    load_movielens(folder)
    Rating.objects.create(user_id=999, movie_id=1, rating=3.0)  # made in the app, not in the set
    Rating.objects.filter(user_id=1, movie_id=2).update(rating=1.0, timestamp=datetime.now(UTC))  # re-rated in the app
    Rating.objects.filter(user_id=2, movie_id=1).update(rating=1.0, timestamp=datetime(1999, 1, 1, tzinfo=UTC))
    Tag.objects.create(user_id=999, movie_id=1, tag="app tag")
    files = dict(TINY)
    files["movies.csv"] = [*TINY["movies.csv"][:4], "4,Babylon 5 (1994),Sci-Fi", *TINY["movies.csv"][5:]]
    ratings = TINY["ratings.csv"]
    files["ratings.csv"] = [*ratings[:4], "2,3,4.5,964999999", *ratings[5:], "4,1,3.0,964982931"]
    files["tags.csv"] = [*TINY["tags.csv"], "3,4,space,1445715001"]
    summary = load_movielens(write_set(tmp_path / "edited", files))
    assert (summary.movies_inserted, summary.movies_updated) == (0, 1)
    assert (summary.ratings_inserted, summary.ratings_updated) == (1, 2)  # user 4 new; (2,3) changed; (2,1) restored
    assert summary.tags_inserted == 1
    assert Movie.objects.get(pk=4).year == 1994
    assert Rating.objects.get(user_id=2, movie_id=3).rating == 4.5
    assert Rating.objects.get(user_id=2, movie_id=1).rating == 5.0  # the older app edit is restored from the file
    assert Rating.objects.get(user_id=1, movie_id=2).rating == 1.0  # the newer app rating wins
    assert Rating.objects.filter(user_id=999).exists() and Tag.objects.filter(tag="app tag").exists()
    assert Tag.objects.count() == 6


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("preload", [False, True], ids=["empty-db", "loaded-db"])
def test_failure_while_writing_rolls_everything_back(tmp_path, preload):
    """An error in the middle of the COPY (here from the progress callback) leaves the database as it was."""
    if preload:
        load_movielens(write_set(tmp_path / "loaded"))
    before = snapshot()
    files = dict(TINY)
    files["ratings.csv"] = [*TINY["ratings.csv"], "5,5,1.0,964982931"]

    def explode(stage, done, total, unit="rows"):
        if stage == "copy ratings" and done == 0:
            raise RuntimeError("connection lost")

    with pytest.raises(RuntimeError, match="connection lost"):
        load_movielens(write_set(tmp_path / "new", files), progress=explode)
    assert snapshot() == before


def rating_schema() -> list[str]:
    """The ratings table's index and constraint definitions, from the catalog."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'recommender_rating'::regclass
            UNION ALL
            SELECT conname || ' ' || pg_get_constraintdef(oid)
            FROM pg_constraint WHERE conrelid = 'recommender_rating'::regclass
            ORDER BY 1
            """
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.movielens
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fail_at", [None, "copy ratings", "index ratings"])
def test_bulk_load_into_an_empty_table_restores_indexes_and_constraints(movielens_small, fail_at):
    """The large-load path drops and rebuilds the ratings indexes and keys; they are the same after, even on failure."""
    schema = rating_schema()

    def progress(stage, done, total, unit="rows"):
        if stage == fail_at and done > 0:
            raise RuntimeError("stop")

    if fail_at is None:
        load_movielens(movielens_small, progress=progress)
        assert Rating.objects.count() == 100836
    else:
        with pytest.raises(RuntimeError, match="stop"):
            load_movielens(movielens_small, progress=progress)
        assert (Movie.objects.count(), Rating.objects.count(), Tag.objects.count()) == (0, 0, 0)
    assert rating_schema() == schema
    with pytest.raises(IntegrityError, match="rating_user_movie_unique"):
        with transaction.atomic():
            Rating.objects.bulk_create([Rating(user_id=1, movie_id=1, rating=1.0)] * 2)


@pytest.mark.movielens
@pytest.mark.django_db(transaction=True)
def test_ml_latest_small_loads_exactly_and_a_second_load_changes_nothing(movielens_small):
    """The real set gives 9742 movies, 100836 ratings by 610 users and 3683 tags; loading it again is a no-op."""
    summary = load_movielens(movielens_small)
    assert (summary.movies, summary.ratings, summary.users, summary.tags) == (9742, 100836, 610, 3683)
    assert (Movie.objects.count(), Rating.objects.count(), Tag.objects.count()) == (9742, 100836, 3683)
    assert Rating.objects.values("user_id").distinct().count() == 610
    toy = Movie.objects.get(pk=1)
    assert (toy.title, toy.year, toy.imdb_id, toy.tmdb_id) == ("Toy Story (1995)", 1995, "0114709", 862)
    assert toy.genres == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert Movie.objects.get(pk=27008).title == "From Dusk Till Dawn 2: Texas Blood Money (1999)"
    assert (Movie.objects.get(pk=171749).year, Movie.objects.get(pk=171749).genres) == (2006, [])
    assert Movie.objects.filter(tmdb_id__isnull=True).count() == 8
    assert Movie.objects.filter(genres=[]).count() == 34
    first = Rating.objects.get(user_id=1, movie_id=1)
    assert (first.rating, first.timestamp) == (4.0, datetime.fromtimestamp(964982703, tz=UTC))
    assert Tag.objects.filter(user_id=567, movie_id=4552, tag='"artsy"').count() == 1
    before = snapshot()

    again = load_movielens(movielens_small)
    assert not again.changed
    assert (again.ratings_inserted, again.ratings_updated, again.movies_updated, again.tags_inserted) == (0, 0, 0, 0)
    assert snapshot() == before


@pytest.mark.movielens
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("file", "line", "content", "message"),
    [
        ("ratings.csv", 17, b"1,260,6.0,964981680", "ratings.csv line 17: rating 6.0 is not one of 0.5, 1.0, ..., 5.0"),
        (
            "movies.csv", 5001, b'7720,"Four Musketeers, The (1974)",Action|Adventure\xff',
            "movies.csv line 5001: not valid UTF-8 (byte 0xFF",
        ),
        ("movies.csv", 9743, b"193609,Andrew Dice Clay: Dice Rules (1991)", "movies.csv line 9743: expected 3 fields"),
        ("tags.csv", 3684, b"610,168248,Heroic Bloodshed", "tags.csv line 3684: expected 4 fields"),
    ],
)
def test_corrupt_copy_of_the_real_set_is_refused_and_the_database_is_unchanged(
    tmp_path, movielens_small, file, line, content, message
):
    """A corrupted line of the real files (quoted titles above it) is reported at its editor line; nothing changes."""
    load_movielens(movielens_small)
    before = snapshot()
    folder = tmp_path / "copy"
    shutil.copytree(movielens_small, folder)
    replace_line(folder / file, line, content)
    with pytest.raises(IngestError) as caught:
        load_movielens(folder)
    assert str(caught.value).startswith(message)
    assert snapshot() == before


# -- ml-100k and ml-1m ---------------------------------------------------------


def _item(movie_id: int, title: str, release: str, url: str, genres: set[str]) -> str:
    from web.recommender.ingest.format_100k import GENRES

    flags = "|".join("1" if g in genres else "0" for g in GENRES)
    return f"{movie_id}|{title}|{release}||{url}|{flags}"


def write_100k(folder: Path) -> Path:
    """A tiny ml-100k folder: latin-1 u.item with accents, tab-separated u.data, LF endings."""
    folder.mkdir(parents=True)
    items = [
        _item(1, "Toy Story (1995)", "01-Jan-1995", "http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)",
              {"Animation", "Children's", "Comedy"}),
        _item(2, "Café au lait (1994)", "01-Jan-1994", "http://us.imdb.com/M/title-exact?Cafe", {"Comedy"}),
        _item(3, "Misérables, Les", "01-Jan-1995", "", {"Drama"}),
        _item(267, "unknown", "", "", {"unknown"}),
    ]
    (folder / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    ratings = ["196\t1\t3\t881250949", "186\t2\t5\t891717742", "22\t3\t1\t878887116", "22\t267\t4\t880606923"]
    (folder / "u.data").write_text("\n".join(ratings) + "\n")
    (folder / "u.user").write_text("1|24|M|technician|85711\n")
    return folder


def write_1m(folder: Path) -> Path:
    """A tiny ml-1m folder: ``::``-separated latin-1 movies.dat and ratings.dat (users.dat ignored)."""
    folder.mkdir(parents=True)
    movies = [
        "1::Toy Story (1995)::Animation|Children's|Comedy",
        "2::Misérables, Les (1995)::Drama",
        "3::Château, Le (1999)::Drama|Romance",
    ]
    (folder / "movies.dat").write_bytes(("\n".join(movies) + "\n").encode("latin-1"))
    (folder / "ratings.dat").write_text("1::1::5::978300760\n1::2::3::978302109\n2::3::4::978301968\n")
    (folder / "users.dat").write_text("1::F::1::10::48067\n")
    return folder


@pytest.mark.django_db(transaction=True)
def test_ml_100k_layout_loads_with_latin1_titles_and_genre_flags(tmp_path):
    """u.item flags become genre names (Children's -> Children, unknown -> none) and accents survive."""
    summary = load_movielens(write_100k(tmp_path / "ml-100k"))
    assert (summary.layout, summary.movies, summary.ratings, summary.users, summary.tags) == ("ml-100k", 4, 4, 3, 0)
    assert Movie.objects.get(pk=1).genres == ["Animation", "Children", "Comedy"]
    assert (Movie.objects.get(pk=2).title, Movie.objects.get(pk=2).year) == ("Café au lait (1994)", 1994)
    assert Movie.objects.get(pk=3).year == 1995  # no year in the title: the release date's
    unknown = Movie.objects.get(pk=267)
    assert (unknown.title, unknown.year, unknown.genres, unknown.imdb_id) == ("unknown", None, [], "")
    assert Rating.objects.get(user_id=186).rating == 5.0


@pytest.mark.django_db(transaction=True)
def test_ml_1m_layout_loads_with_latin1_titles(tmp_path):
    """movies.dat and ratings.dat load with accents decoded and the old genre spelling renamed."""
    summary = load_movielens(write_1m(tmp_path / "ml-1m"))
    assert (summary.layout, summary.movies, summary.ratings, summary.users) == ("ml-1m", 3, 3, 2)
    assert Movie.objects.get(pk=3).title == "Château, Le (1999)"
    assert Movie.objects.get(pk=1).genres == ["Animation", "Children", "Comedy"]
    assert Rating.objects.get(user_id=2, movie_id=3).rating == 4.0


def test_utf8_copy_of_a_latin1_layout_is_read_as_utf8(tmp_path):
    """A u.item re-encoded to UTF-8 is detected and decoded as such instead of as mojibake."""
    folder = write_100k(tmp_path / "ml-100k")
    (folder / "u.item").write_bytes((folder / "u.item").read_bytes().decode("latin-1").encode("utf-8"))
    assert "Café au lait (1994)" in set(read_movielens(folder).movies["title"])


@pytest.mark.parametrize(
    ("writer", "file", "line", "content", "message"),
    [
        (write_100k, "u.data", 2, "186\t2\t6\t891717742", "u.data line 2: rating 6.0 is not one of"),
        (write_100k, "u.data", 3, "22\t3\t1", "u.data line 3: expected 4 fields separated by '\\t', got 3"),
        (write_100k, "u.data", 4, "22\t268\t4\t880606923", "u.data line 4: item id 268 is not in u.item"),
        (write_100k, "u.item", 2, _item(2, "Café", "", "", {"Comedy"}).replace("|0|0|0", "|2|0|0", 1),
         "u.item line 2: genre flag 'unknown' is not 0 or 1"),
        (write_1m, "ratings.dat", 2, "1::2::3", "ratings.dat line 2: expected 4 fields separated by '::', got 3"),
        (write_1m, "ratings.dat", 3, "1::2::3::978301968",
         "ratings.dat line 3: user 1 rated movie 2 already on line 2"),
        (write_1m, "movies.dat", 1, "x::Toy Story (1995)::Animation",
         "movies.dat line 1: MovieID 'x' is not an integer"),
    ],
)
def test_old_layout_defects_are_refused_with_file_and_line(tmp_path, writer, file, line, content, message):
    """ml-100k and ml-1m files are validated like the CSV layout and report their own line numbers."""
    folder = writer(tmp_path / "set")
    lines = (folder / file).read_bytes().split(b"\n")
    lines[line - 1] = content.encode("latin-1")
    (folder / file).write_bytes(b"\n".join(lines))
    with pytest.raises(IngestError) as caught:
        read_movielens(folder)
    assert str(caught.value).startswith(message)


# -- the command ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_load_command_prints_the_summary_and_progress_lines(tmp_path):
    """The command loads, prints the counts on stdout and plain progress lines on stderr (not a terminal)."""
    out, err = StringIO(), StringIO()
    call_command("load_movielens", str(write_set(tmp_path / "set")), stdout=out, stderr=err)
    assert "5 movies, 5 ratings by 3 users, 4 tags; inserted 5 movies, 5 ratings, 4 tags" in out.getvalue()
    assert "copy ratings: 5/5 rows (100%)" in err.getvalue()
    assert "\r" not in err.getvalue()

    out = StringIO()
    call_command("load_movielens", str(tmp_path / "set"), stdout=out, stderr=StringIO())
    assert "(nothing changed)" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_load_command_quiet_prints_nothing(tmp_path):
    """--quiet silences both the summary and the progress."""
    out, err = StringIO(), StringIO()
    call_command("load_movielens", str(write_set(tmp_path / "set")), "--quiet", stdout=out, stderr=err)
    assert (out.getvalue(), err.getvalue()) == ("", "")
    assert Rating.objects.count() == 5


@pytest.mark.django_db(transaction=True)
def test_load_command_turns_a_bad_file_into_a_command_error(tmp_path):
    """A malformed file becomes a CommandError naming file, line and reason, and nothing is loaded."""
    folder = write_set(tmp_path / "set")
    replace_line(folder / "ratings.csv", 3, b"1,abc,3.5,964981247")
    message = r"ratings.csv line 3: movieId 'abc' is not an integer\. Nothing was loaded\."
    with pytest.raises(CommandError, match=message):
        call_command("load_movielens", str(folder), stdout=StringIO(), stderr=StringIO())
    assert Movie.objects.count() == 0


@pytest.mark.movielens
@pytest.mark.django_db(transaction=True)
def test_a_committed_load_leaves_every_rating_page_all_visible(movielens_small):
    """VACUUM after the commit: index-only scans (a movie's distribution) then skip the table at once, not after autovacuum."""
    call_command("load_movielens", str(movielens_small), quiet=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpages, relallvisible FROM pg_class WHERE relname = 'recommender_rating'")
        pages, visible = cursor.fetchone()
    assert pages > 0 and visible == pages


@pytest.mark.django_db(transaction=True)
def test_a_failed_vacuum_after_the_commit_is_a_warning_not_a_failed_load(monkeypatch, caplog):
    """The load is committed by then: the error is logged (autovacuum redoes it), not reported as 'nothing was loaded'."""
    from web.recommender.ingest import loader

    monkeypatch.setattr(loader, "RATING", "no_such_table")
    loader._mark_ratings_visible("default")
    assert "VACUUM of the ratings failed" in caplog.text


@pytest.mark.django_db
def test_load_command_into_an_unmigrated_database_says_to_migrate(tmp_path):
    """A table missing (the database never migrated) is a CommandError with the migrate hint, not a traceback."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE recommender_movie RENAME TO recommender_movie_hidden")  # undone with the test
    with pytest.raises(CommandError, match=r"Nothing was loaded\. .*manage\.py migrate"):
        call_command("load_movielens", str(write_set(tmp_path / "set")), stdout=StringIO(), stderr=StringIO())
