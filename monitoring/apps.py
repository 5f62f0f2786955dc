from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "monitoring (drift, placement quality)"

    def ready(self) -> None:
        from django.conf import settings

        from monitoring.collectors import collectors_register

        collectors_register()

        if settings.SLOW_QUERY_LOG_MS is not None:
            from recsite.slow_queries import install

            install(settings.SLOW_QUERY_LOG_MS)
