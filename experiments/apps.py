from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "experiments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started

        from experiments.serving import exposures_collect, exposures_flush

        request_started.connect(exposures_collect, dispatch_uid="experiments.exposures_collect")
        request_finished.connect(exposures_flush, dispatch_uid="experiments.exposures_flush")
