from django.urls import path

from web.progress import views

urlpatterns = [
    path("", views.progress_page, name="progress"),
    path("runs/<int:run_id>/throughput.svg", views.throughput_chart, name="progress-throughput-chart"),
    path("durations.svg", views.durations_chart, name="progress-durations-chart"),
]
