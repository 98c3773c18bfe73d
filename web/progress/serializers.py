from rest_framework import serializers

from web.progress.models import Run, ShardProgress


class ShardProgressSerializer(serializers.ModelSerializer):
    class Meta:
        model = ShardProgress
        fields = ["shard", "host", "status", "stage", "users_total", "users_done", "rows_written", "heartbeat_at"]


class RunSerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="display_status")
    fraction_done = serializers.FloatField()
    duration_seconds = serializers.SerializerMethodField()
    is_active = serializers.SerializerMethodField()
    shard_progress = ShardProgressSerializer(many=True)

    class Meta:
        model = Run
        fields = [
            "id", "algorithm", "parameters", "status", "stage", "shards", "users_total", "users_done",
            "rows_written", "fraction_done", "created_at", "started_at", "finished_at", "heartbeat_at",
            "duration_seconds", "error", "metrics", "is_active", "shard_progress",
        ]

    def get_duration_seconds(self, run: Run) -> float | None:
        return run.duration.total_seconds() if run.duration is not None else None

    def get_is_active(self, run: Run) -> bool:
        return run.pk == self.context.get("active_run_id")
