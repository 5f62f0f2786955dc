from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "experiments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started

        from catalog.public import clicks_stored
        from experiments.collectors import srm_metrics
        from experiments.serving import exposure_clicks_count, exposures_collect, exposures_flush
        from recsite.metrics_export import stored_collector_register

        stored_collector_register(srm_metrics)

        request_started.connect(exposures_collect, dispatch_uid="experiments.exposures_collect")
        request_finished.connect(exposures_flush, dispatch_uid="experiments.exposures_flush")
        clicks_stored.connect(exposure_clicks_count, dispatch_uid="experiments.exposure_clicks_count")
