from django.urls import path

from web.progress import views

urlpatterns = [
    path("runs", views.RunListView.as_view(), name="api-runs"),
    path("runs/<int:run_id>", views.RunDetailView.as_view(), name="api-run"),
    path("runs/<int:run_id>/cancel", views.RunCancelView.as_view(), name="api-run-cancel"),
    path("runs/<int:run_id>/activate", views.RunActivateView.as_view(), name="api-run-activate"),
]
