"""The Celery app: `celery -A recsite worker -Q default,gpu` (GPU machines: `-Q gpu`)."""

import os

from celery import Celery

from recsite.celery_metrics import task_metrics_connect

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsite.settings")

app = Celery("recsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Task metrics and the worker's /metrics endpoint (signal receivers).
task_metrics_connect()
