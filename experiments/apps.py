from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "experiments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started

        from catalog.public import clicks_stored
        from experiments.collectors import srm_metrics
        from experiments.serving import exposure_clicks_count
        from recsite import after_response
        from recsite.metrics_export import stored_collector_register

        stored_collector_register(srm_metrics)

        # Exposures are written after the response (recommendations connects the same receivers).
        request_started.connect(after_response.collect, dispatch_uid=after_response.COLLECT_UID)
        request_finished.connect(after_response.flush, dispatch_uid=after_response.FLUSH_UID)
        clicks_stored.connect(exposure_clicks_count, dispatch_uid="experiments.exposure_clicks_count")
