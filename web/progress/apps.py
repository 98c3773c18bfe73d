from django.apps import AppConfig


class ProgressConfig(AppConfig):
    """Precompute runs, their per-shard progress, and the operators' progress page."""

    name = "web.progress"
    label = "progress"
    verbose_name = "Precompute progress"
