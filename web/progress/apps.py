from django.apps import AppConfig


class ProgressConfig(AppConfig):
    """Precompute runs, their per-shard progress, and the operators' progress page."""

    name = "web.progress"
    label = "progress"
    verbose_name = "Precompute progress"

    def ready(self) -> None:
        from web.progress import metrics  # models are loaded only now, when ready() runs

        metrics.register()
