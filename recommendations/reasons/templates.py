"""Prompt templates: versions (every save is a new one, a draft until published), publishing and
rollback to an earlier published version, diffs, and rendering in the Django template language.

Variables a template can use (all strings are sanitised catalog text, see `guardrails`):

- `item`: the recommended product — `id`, `title`, `description`, `brand`, `category`, `price`, `currency`
- `route`: how it was chosen — `itemcf`, `semantic`, `popularity` or `rule`
- `seed`: the history item that route proposed it from (same fields as `item`), or None
- `recent_items`: the customer's recent items (same fields), most recent first; in cached
  generation (shared by every customer with the same seed) this is the seed alone
- `rules`: what the merchandising rules did to the item (`pinned at 1`, `score ×1.5`; empty when none)
- rerank templates: `candidates` (`id`, `title`, `price` each, in the ranker's order) and `n`

`grounded` is what the grounded backend writes (no model: always true); `body` is the prompt
sent to a language model. Templates run in a sandbox (`sandbox`): plain data only, and no tag that
reaches outside the template (`load`, `include`, `extends`, `debug`, `url`, …).
"""

from __future__ import annotations

import difflib
import functools
import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.template import Context, TemplateSyntaxError
from django.utils import timezone

from placements.public import Placement
from recommendations.reasons.models import PromptTemplate, PromptTemplateVersion, Purpose
from recommendations.reasons.sandbox import SandboxEngine, plain_data
from recsite.metrics import fallback_count

logger = logging.getLogger(__name__)

DEFAULT_GROUNDED = (
    '{% if route == "itemcf" and seed %}Because you bought {{ seed.title|title }}'
    '{% elif route == "semantic" and seed %}Similar to {{ seed.title|title }}'
    '{% elif route == "rule" %}Featured{% else %}Popular this week{% endif %}'
)
DEFAULT_REASON_BODY = (
    "Write one short sentence (at most 20 words) telling a shopper why they may like this product. "
    "Use only these facts; do not mention prices or other products.\n"
    "Product: {{ item.title|title }}\n"
    '{% if route == "itemcf" and seed %}Fact: people who bought {{ seed.title|title }} also bought it.\n'
    '{% elif route == "semantic" and seed %}Fact: it is like {{ seed.title|title }}, which the shopper liked.\n'
    '{% elif route == "rule" %}Fact: the shop features it.\n{% else %}Fact: it is popular this week.\n{% endif %}'
    "Sentence:"
)
DEFAULT_RERANK_BODY = (
    "Order these {{ n }} products from most to least likely to interest a shopper whose recent items are: "
    "{% for r in recent_items %}{{ r.title }}{% if not forloop.last %}; {% endif %}{% endfor %}.\n"
    "{% for c in candidates %}{{ c.id }}: {{ c.title }}\n{% endfor %}"
    'Answer with a JSON array of the ids only, for example ["{{ candidates.0.id }}"].'
)

# autoescape off: the output is plain text (a prompt, a sentence), never HTML.
_engine = SandboxEngine(autoescape=False)


class TemplateError(ValueError):
    """A template body that does not compile or fails to render; the message says where."""


@functools.lru_cache(maxsize=512)
def _compiled(source: str):
    return _engine.from_string(source)


def _template_or_error(source: str):
    try:
        return _compiled(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc}") from exc


def template_compile_check(*, source: str) -> None:
    """Raise TemplateError when `source` is not a valid template or uses a refused tag."""
    _template_or_error(source)


def template_render(*, source: str, variables: Mapping[str, Any]) -> str:
    """`source` rendered with a plain-data copy of `variables`, surrounding whitespace stripped.

    Raises TemplateError when the template does not compile or fails while rendering (a filter
    given what it cannot take, `{{ route|divisibleby:2 }}`), TypeError when a variable is not
    plain data (a caller's bug, see `sandbox.plain_data`).
    """
    template = _template_or_error(source)
    context = Context(plain_data(dict(variables)), autoescape=False)
    try:
        return template.render(context).strip()
    # The operator's template is code we did not write: whatever it raises is its error.
    except Exception as exc:
        raise TemplateError(f"template failed to render: {type(exc).__name__}: {exc}") from exc


def grounded_render(*, source: str, variables: Mapping[str, Any]) -> str:
    """The grounded reason through `source` (empty: the built-in one). A template that fails to
    render falls back to the built-in one, logged and counted: a request never fails on it."""
    try:
        return template_render(source=source or DEFAULT_GROUNDED, variables=variables)
    except TemplateError as exc:
        logger.warning("grounded template failed, the built-in reason is served: %s", exc)
        fallback_count(stage="reasons", reason="template_error")
        return template_render(source=DEFAULT_GROUNDED, variables=variables)


def template_version_create(
    *,
    template_id: int,
    body: str,
    grounded: str = "",
    note: str = "",
    publish: bool = False,
    user_id: int | None = None,
) -> PromptTemplateVersion:
    """Store a new version of the template (numbered after its latest): a draft, served only once
    published (`publish=True` publishes it at once, as `user_id`).

    Raises TemplateError (and stores nothing) when either text does not compile.
    """
    template_compile_check(source=body)
    template_compile_check(source=grounded)
    with transaction.atomic():
        template = PromptTemplate.objects.select_for_update().get(pk=template_id)
        latest = template.versions.order_by("-version").values_list("version", flat=True).first() or 0
        version = PromptTemplateVersion.objects.create(
            template=template, version=latest + 1, body=body, grounded=grounded, note=note
        )
        if publish:
            template_version_publish(version_id=version.pk, user_id=user_id)
            version.refresh_from_db()
    return version


def template_create(
    *, name: str, purpose: str = Purpose.REASON, placement: str = Placement.HOME_FEED, body: str, grounded: str = ""
) -> PromptTemplate:
    """A new template with its first version published."""
    template_compile_check(source=body)
    template_compile_check(source=grounded)
    with transaction.atomic():
        template = PromptTemplate.objects.create(name=name, purpose=purpose, placement=placement)
        template_version_create(template_id=template.pk, body=body, grounded=grounded, note="created", publish=True)
    template.refresh_from_db()
    return template


def template_version_publish(*, version_id: int, user_id: int | None = None) -> PromptTemplate:
    """Publish a draft (who and when are kept on the version) and serve it. Publishing a version
    that is published already serves it again, keeping its first publication."""
    with transaction.atomic():
        version = PromptTemplateVersion.objects.select_for_update().select_related("template").get(pk=version_id)
        if version.published_at is None:
            version.published_at = timezone.now()
            version.published_by_id = user_id
            version.save(update_fields=["published_at", "published_by"])
        template = version.template
        template.active_version = version
        template.save(update_fields=["active_version"])
    return template


def template_version_activate(*, version_id: int) -> PromptTemplate:
    """Serve this published version of its template again (a rollback when it is older than the
    active one). Raises TemplateError for a draft: a draft is published, never rolled back to."""
    version = PromptTemplateVersion.objects.select_related("template").get(pk=version_id)
    if version.published_at is None:
        raise TemplateError(f"{version} is a draft: preview and publish it instead")
    template = version.template
    template.active_version = version
    template.save(update_fields=["active_version"])
    return template


def template_latest_version(*, template_id: int) -> PromptTemplateVersion | None:
    """The template's newest version, draft or published (what an edit starts from)."""
    return PromptTemplateVersion.objects.filter(template_id=template_id).order_by("-version").first()


def template_versions_diff(*, old_id: int, new_id: int) -> str:
    """A unified diff of two versions' texts (body, then grounded), as text."""
    old, new = (PromptTemplateVersion.objects.select_related("template").get(pk=pk) for pk in (old_id, new_id))
    lines = []
    for field in ("body", "grounded"):
        lines += difflib.unified_diff(
            getattr(old, field).splitlines(),
            getattr(new, field).splitlines(),
            fromfile=f"{old} {field}",
            tofile=f"{new} {field}",
            lineterm="",
        )
    return "\n".join(lines)
