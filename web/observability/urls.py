from django.urls import path

from web.observability.views import metrics

urlpatterns = [path("", metrics, name="metrics")]
