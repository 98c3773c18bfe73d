from django.urls import path

from web.progress import views

urlpatterns = [
    path("runs", views.RunListView.as_view(), name="api-runs"),
    path("runs/<int:run_id>", views.RunDetailView.as_view(), name="api-run"),
]
