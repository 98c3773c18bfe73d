from django.contrib import admin

from web.accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens can be seen and deleted (revoked) here, never created: a key is issued by ``create_service_token``."""

    list_display = ["user", "name", "created"]
    readonly_fields = ["digest", "user", "name", "created"]

    def has_add_permission(self, request) -> bool:
        return False
