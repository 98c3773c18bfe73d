"""The rendered bodies of recent answers, by ETag: a repeated read costs neither its queries nor its serializer.

An ETag here (web/recommender/caching.py) is made of everything an answer
depends on: the change counters, the query, the format, and for private data
the asking account. So two requests with the same ETag get the same answer,
and the body rendered for the first can be sent to the second: a change of
the data changes the counters, hence the ETag, and the old body is simply
never asked for again (it ages out of the cache). Nothing is ever deleted or
invalidated by hand, and a private list's body is only found under an ETag
that names its account. The host and scheme are part of the key too: a
paginated answer's links name them.

Each process keeps its own bodies (``ANSWER_CACHE_BYTES``, least recently
used out first): reading one is a dictionary lookup, where a shared cache
would cost a round trip per request. See docs/decisions.md, "HTTP caching".
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

from django.conf import settings


class StoredAnswer(NamedTuple):
    content: bytes
    content_type: str


class StoredAnswers:
    """A thread-safe least-recently-used map of keys to bodies, bounded by the bytes of the bodies."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._answers: OrderedDict[tuple[str, ...], StoredAnswer] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> StoredAnswer | None:
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, key: tuple[str, ...], answer: StoredAnswer) -> None:
        size = len(answer.content)
        if size > self.max_bytes // 8:  # one huge answer must not push out hundreds of small ones
            return
        with self._lock:
            previous = self._answers.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous.content)
            self._answers[key] = answer
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._answers.popitem(last=False)
                self._bytes -= len(dropped.content)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._answers)


ANSWERS = StoredAnswers(settings.ANSWER_CACHE_BYTES)
"""This process's stored answers (empty and unused when ``ANSWER_CACHE_BYTES`` is 0)."""
