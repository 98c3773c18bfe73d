"""Sign-in and sign-up (both rate limited), the onboarding page, and "my recommendations"."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib import messages
from django.contrib.auth.views import LoginView, LogoutView
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from web.recommender.forms import SignUpForm
from web.recommender.models import Movie, PopularMovie, Profile, Rating
from web.recommender.views.access import marks_of, ratings_of, viewer_user_id
from web.recommender.views.users import ratings_page, recommendations_page, status_of
from web.runs.models import Run
from web.security import begin_sign_in, client_ip, sign_in_succeeded, signup_limit, take, wait_message

ONBOARDING_GENRES = [
    "Drama", "Comedy", "Action", "Sci-Fi", "Animation", "Romance", "Thriller", "Crime", "Adventure", "Horror",
    "Fantasy", "Documentary",
]
"""One well-known movie of each, so a first handful of ratings says something about taste."""
ONBOARDING_POOL = 300
"""How far down the popular list onboarding looks."""
ONBOARDING_BATCHES = 9
"""How many times "show me others" offers new films (then the last ones stay)."""
ONBOARDING_FOUND = 12
"""How many search results onboarding shows."""


def _too_many(request: HttpRequest, template: str, context: dict, action: str, wait: int) -> HttpResponse:
    """The form page again with a 429 that says how long to wait (and ``Retry-After`` for scripts)."""
    response = render(request, template, context | {"rate_limited": wait_message(action, wait)}, status=429)
    response["Retry-After"] = str(wait)
    return response


class SignInView(LoginView):
    """Django's sign-in, refused with 429 while the attempt is over a failed-sign-in limit (``web.security.begin_sign_in``).

    The attempt is counted before the password hash and given back on success, so only failures use
    up a limit and concurrent guesses cannot overshoot it; a browser that signed in before is not
    held by the global per-name limit, so flooding a name cannot keep its owner out.
    """

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.attempt = begin_sign_in(request, self._name_looked_up())
        if self.attempt.wait:
            context = self.get_context_data(form=self.form_class(request))
            return _too_many(request, self.template_name, context, "failed sign-in attempts", self.attempt.wait)
        return super().post(request, *args, **kwargs)

    def _name_looked_up(self) -> str:
        """The posted name as authentication will look it up: the form's own field strips and NFKC-normalises it,
        so ｏｐｅｒａｔｏｒ and 𝐨𝐩𝐞𝐫𝐚𝐭𝐨𝐫 are both ``operator`` and share its count."""
        return self.get_form().fields["username"].to_python(self.request.POST.get("username", ""))

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        sign_in_succeeded(self.attempt, response, form.get_user().get_username())
        return response


class SignOutView(LogoutView):
    """Django's sign-out, and the page it lands on says it worked (on a shared computer the member wants to know)."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        was_signed_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_signed_in:  # after the session's end: the message rides on the fresh one
            messages.success(request, "You have signed out.")
        return response


def signup(request: HttpRequest) -> HttpResponse:
    """Create an account and its profile (a user id from the profile sequence), sign in, go to onboarding.

    Every sign-up POST counts against the client address (a successful one creates an account, the
    thing a script would flood), and over the limit the form answers 429 without creating anything.
    """
    if request.user.is_authenticated:
        return redirect("me")
    form = SignUpForm(request.POST or None)
    if request.method == "POST":
        wait = take([(signup_limit(), client_ip(request))])
        if wait:
            return _too_many(request, "registration/signup.html", {"form": SignUpForm()}, "sign-up attempts", wait)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            account = form.save()
            Profile.objects.for_account(account)
        login(request, account)
        return redirect("onboarding")
    return render(request, "registration/signup.html", {"form": form})


def onboarding_movies(run: Run | None, batch: int = 0) -> list:
    """Well-known, diverse movies: the most popular of each onboarding genre in the active run's popular list.

    ``batch`` 1, 2, ... ("show me others") gives the next most popular of each genre, never one shown before.
    """
    pool = [row.movie for row in PopularMovie.objects.of_run(run)[:ONBOARDING_POOL]]
    shown: set[int] = set()
    batches: list[list] = []
    for _ in range(batch + 1):
        picks: list = []
        for genre in ONBOARDING_GENRES:
            pick = next((m for m in pool if genre in m.genres and m.movie_id not in shown), None)
            if pick is not None:
                picks.append(pick)
                shown.add(pick.movie_id)
        if not picks:  # the pool has run out: the last batch again
            break
        batches.append(picks)
    return batches[-1] if batches else []


@login_required
def onboarding(request: HttpRequest) -> HttpResponse:
    """Ask a new profile to rate a handful of well-known movies before its first recommendations."""
    me = viewer_user_id(request)
    query = request.GET.get("q", "").strip()[:200]
    batch = min(max(int(request.GET["more"]), 0), ONBOARDING_BATCHES) if request.GET.get("more", "").isdigit() else 0
    if query:  # someone who has seen none of the offered films looks for ones they have
        films = list(Movie.objects.catalogue(search=query)[:ONBOARDING_FOUND])
    else:
        films = onboarding_movies(Run.objects.active(), batch)
    context = {
        "movies": films, "query": query, "next_batch": batch + 1 if batch < ONBOARDING_BATCHES else 0,
        "my_ratings": ratings_of(me, [m.movie_id for m in films]),
        **marks_of(me, [m.movie_id for m in films]),
        "rated_count": Rating.objects.filter(user_id=me).count(),
        "user_id": me,
        "can_rate": True,
    }
    return render(request, "recommender/onboarding.html", context)


@login_required
def me(request: HttpRequest) -> HttpResponse:
    """The signed-in profile's recommendations, at an address without its id."""
    return recommendations_page(request, viewer_user_id(request))


@login_required
def my_ratings(request: HttpRequest) -> HttpResponse:
    """The signed-in profile's rating history."""
    return ratings_page(request, viewer_user_id(request))


@login_required
def my_status(request: HttpRequest) -> JsonResponse:
    """Whether the signed-in profile's recommendations are being refreshed (the page's poller)."""
    return status_of(viewer_user_id(request))
