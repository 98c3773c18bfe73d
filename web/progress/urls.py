from django.urls import path

from web.progress import views

urlpatterns = [path("", views.progress_page, name="progress")]
