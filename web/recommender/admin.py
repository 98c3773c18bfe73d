from django.contrib import admin

from web.recommender.models import Movie


@admin.register(Movie)
class MovieAdmin(admin.ModelAdmin):
    list_display = ["movie_id", "title", "year"]
    search_fields = ["title"]
