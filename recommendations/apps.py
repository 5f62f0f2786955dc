from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started
        from django.db.backends.signals import connection_created

        from placements.public import strategy_check_register
        from recommendations.strategy_checks import ranker_live_check, reason_template_live_check

        strategy_check_register(ranker_live_check)
        strategy_check_register(reason_template_live_check)

        from recommendations.recall.semantic import knn_session_defaults

        connection_created.connect(knn_session_defaults, dispatch_uid="recommendations.knn_session_defaults")

        from recsite import after_response

        # Served lists and reason servings are written after the response (experiments connects
        # the same receivers: one connection each, by their dispatch_uid).
        request_started.connect(after_response.collect, dispatch_uid=after_response.COLLECT_UID)
        request_finished.connect(after_response.flush, dispatch_uid=after_response.FLUSH_UID)

        from catalog.public import events_stored
        from recommendations.feeds.tasks import events_stored_receiver

        events_stored.connect(events_stored_receiver, dispatch_uid="recommendations.feeds_ahead")

        from recommendations.embeddings.model import embedding_model_check
        from recsite.health import readiness_check_register

        readiness_check_register("embedding_model", embedding_model_check)
