"""The worker loads only models the precompute job signed: a model row written by anyone else is refused unread.

The attack: whoever can write the ``FittedModel`` row (a database role, a backup restored from
elsewhere, an SQL injection) stores a pickle whose loading runs their code in the worker.
"""

from __future__ import annotations

import os
import pickle

import pytest

from tests.helpers import run
from web import security
from web.progress.models import Run
from web.recommender import tasks
from web.recommender.models import FittedModel
from web.recommender.tasks import refresh_user

USER = 101


class MakesDirectory:
    """Unpickling this calls ``os.mkdir(path)``: any other call, a shell included, runs the same way."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.fixture
def published(catalogue) -> Run:
    """The tiny catalogue with one published popularity run, its model stored by the job."""
    return run(algorithm="popularity", top_n=10)


def _refresh_from_the_stored_model(user_id: int) -> Exception | None:
    """Refresh ``user_id`` as a freshly started worker would (nothing cached); the error it raised, if any."""
    tasks._MODEL_CACHE.clear()
    try:
        refresh_user(user_id)
    except Exception as exc:  # noqa: BLE001 - the test inspects what was raised
        return exc
    return None


def _stored(run: Run) -> bytes:
    return bytes(FittedModel.objects.get(run=run).data)


def test_the_jobs_own_model_loads_and_scores(published):
    """The model the job stored passes the check: the worker refreshes a user from it."""
    tasks._MODEL_CACHE.clear()
    assert refresh_user(USER) > 0


def test_a_planted_pickle_is_refused_before_it_runs(published, tmp_path):
    """The attack: replace the stored model with a pickle that makes a directory. The worker refuses it unread."""
    marker = tmp_path / "planted-code-ran"
    FittedModel.objects.filter(run=published).update(data=pickle.dumps(MakesDirectory(str(marker))))
    error = _refresh_from_the_stored_model(USER)
    assert not marker.exists(), "the planted pickle ran in the worker"
    assert isinstance(error, security.ModelSignatureError), error
    assert f"run {published.pk}" in str(error) and "not loaded" in str(error)


def test_a_signed_trailer_does_not_cover_another_body(published, tmp_path):
    """Keeping the job's signature but swapping the pickle in front of it is refused too."""
    marker = tmp_path / "planted-code-ran"
    stored = _stored(published)
    trailer = stored[stored.rindex(security.MODEL_SIGNATURE_MARK):]
    FittedModel.objects.filter(run=published).update(data=pickle.dumps(MakesDirectory(str(marker))) + trailer)
    error = _refresh_from_the_stored_model(USER)
    assert not marker.exists()
    assert isinstance(error, security.ModelSignatureError), error


def test_a_model_signed_for_another_run_or_with_another_key_is_refused(published, settings):
    """A signature binds the model to its run and to SECRET_KEY: copied to another run, or keyed otherwise, it fails."""
    body = pickle.dumps({"not": "a model"})
    FittedModel.objects.filter(run=published).update(data=security.sign_model(published.pk + 1, body))
    assert isinstance(_refresh_from_the_stored_model(USER), security.ModelSignatureError)

    settings.SECRET_KEY = "another-secret-key-of-more-than-32-characters"
    FittedModel.objects.filter(run=published).update(data=security.sign_model(published.pk, body))
    settings.SECRET_KEY = "yet-another-secret-key-of-more-than-32-characters"
    with pytest.raises(security.ModelSignatureError):
        security.verified_model(published.pk, _stored(published))


def test_a_rotated_secret_key_still_loads_models_signed_with_a_fallback(published, settings):
    """After a SECRET_KEY rotation the old key in SECRET_KEY_FALLBACKS keeps the stored model loadable until the next run."""
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-rotated-secret-key-of-more-than-32-characters", [old_key]
    assert _refresh_from_the_stored_model(USER) is None
    settings.SECRET_KEY_FALLBACKS = []
    assert isinstance(_refresh_from_the_stored_model(USER), security.ModelSignatureError)
