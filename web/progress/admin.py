from django.contrib import admin

from web.runs.models import Run, ShardProgress


class ShardProgressInline(admin.TabularInline):
    model = ShardProgress
    extra = 0


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["id", "algorithm", "status", "stage", "users_done", "users_total", "started_at", "finished_at"]
    list_filter = ["status", "algorithm"]
    inlines = [ShardProgressInline]
