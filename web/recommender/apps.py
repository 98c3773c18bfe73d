from django.apps import AppConfig

from web.observability.collectors import TableRowsCollector
from web.observability.metrics import register_scrape_collector


class RecommenderConfig(AppConfig):
    """Catalogue, ratings, per-user scores (PCS) and the recommendation API."""

    name = "web.recommender"
    label = "recommender"
    verbose_name = "Recommender"

    def ready(self) -> None:
        # /metrics serves the numbers of ratings and events stored (docs/operations.md).
        register_scrape_collector(TableRowsCollector({
            "ratings": self.get_model("Rating")._meta.db_table,
            "events": self.get_model("Event")._meta.db_table,
        }))
