from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    """Catalogue, ratings, per-user scores (PCS) and the recommendation API."""

    name = "web.recommender"
    label = "recommender"
    verbose_name = "Recommender"
