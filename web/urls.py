from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from web import errors
from web.health import healthz, readyz
from web.recommender.views import SignInView, SignOutView

urlpatterns = [
    path("", include("web.recommender.urls")),
    path("progress/", include("web.progress.urls")),
    path("api/", include("web.recommender.api.urls")),
    path("api/", include("web.progress.api_urls")),
    # Browsers ask for /favicon.ico on pages without an icon link (the API docs, the 503 page): the site's icon.
    # Not permanent: the file's name carries its hash in production, and changes with it.
    path("favicon.ico", lambda request: redirect(static("favicon.svg"))),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", include("web.observability.urls")),
    # Only the auth URLs the site uses: sign-in (rate-limited, web.security) and sign-out; sign-up is in
    # web.recommender.urls. Not django.contrib.auth.urls: its password reset mails any account's address
    # with no rate limit, and its password change pages are linked from nowhere (issue #16, item 7).
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", SignOutView.as_view(), name="logout"),
    # The admin signs in through the same rate-limited form (it would otherwise be a second, unlimited one).
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("admin/", admin.site.urls),
]


# Styled pages, and JSON under /api/ (web/errors.py); with DEBUG on, web.errors.ErrorPagesMiddleware uses them too.
handler404 = errors.not_found
handler403 = errors.forbidden
handler500 = errors.server_error
