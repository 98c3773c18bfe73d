"""Small MovieLens folders written by tests: the tiny CSV set, and a way to corrupt one of its lines."""

from __future__ import annotations

from pathlib import Path

TINY = {
    "movies.csv": [
        "movieId,title,genres",
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy",
        '2,"American President, The (1995)",Comedy|Drama|Romance',
        "3,Heat (1995) ,Action|Crime|Thriller",
        "4,Babylon 5,Sci-Fi",
        "5,Death Note: Desu nôto (2006–2007),(no genres listed)",
    ],
    "ratings.csv": [
        "userId,movieId,rating,timestamp",
        "1,1,4.0,964982703",
        "1,2,3.5,964981247",
        "2,1,5.0,964982224",
        "2,3,0.5,964983815",
        "3,4,2.5,964982931",
    ],
    "tags.csv": [
        "userId,movieId,tag,timestamp",
        "1,1,pixar,1445714994",
        "1,1,pixar,1445714994",
        '2,3,"""artsy""",1445714996',
        "3,5,NA,1445715000",
    ],
    "links.csv": [
        "movieId,imdbId,tmdbId",
        "1,0114709,862",
        "2,0112346,9087",
        "3,0113277,949",
        "4,0105946,",
        "5,0877057,419787",
    ],
}


def write_set(folder: Path, files: dict[str, list[str]] = TINY) -> Path:
    """Write a set in the CSV layout with CRLF endings, as GroupLens does."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        (folder / name).write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return folder


def replace_line(path: Path, line: int, text: bytes) -> None:
    """Replace 1-based ``line`` of ``path`` (keeping the file's CRLF endings)."""
    lines = path.read_bytes().split(b"\r\n")
    lines[line - 1] = text
    path.write_bytes(b"\r\n".join(lines))
