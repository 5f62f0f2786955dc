"""The sandbox prompt templates run in: operators write them in the admin, so a template sees only
the plain data it is handed and the template language's own logic.

- Variables are copied into plain data (dicts, lists, str, numbers, bool, None) before each render:
  no model instance, queryset or settings object can reach a template, and a method a template
  calls (`{{ item.clear }}`) touches that render's copy only.
- Tags that reach outside the template are refused when it compiles, with the reason: template
  libraries (`load`), other template files (`include`, `extends`, `block`), the process
  (`debug` dumps the context and every loaded module), the URL configuration (`url`) and the
  request (`csrf_token`, `querystring`). The other builtin tags and every builtin filter work.
- Attributes starting with an underscore (`item.__class__`) are a syntax error in Django itself,
  and the engine has no template loaders and no libraries.

This module is the engine's only builtin library (`register`), in place of Django's three.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.template import Engine, Library, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import Parser, Token

# The builtin tags that stay inside the template.
ALLOWED_TAGS = (
    "autoescape",
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "lorem",
    "now",
    "regroup",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)
REFUSED_TAGS = {
    "load": "it loads template libraries (code from outside the template)",
    "include": "it reads other template files",
    "extends": "it reads other template files",
    "block": "it belongs to template inheritance (extends), which reads other template files",
    "debug": "it dumps the context and the process's loaded modules",
    "url": "it reads the site's URL configuration",
    "csrf_token": "it reads the request",
    "querystring": "it reads the request",
}

register = Library()
register.filters.update(defaultfilters.register.filters)
register.tags.update({name: defaulttags.register.tags[name] for name in ALLOWED_TAGS})


def _refusal(name: str, why: str) -> Callable[[Parser, Token], None]:
    def refuse(parser: Parser, token: Token) -> None:
        raise TemplateSyntaxError(f"{{% {name} %}} is not allowed in prompt templates: {why}")

    return refuse


for _name, _why in REFUSED_TAGS.items():
    register.tags[_name] = _refusal(_name, _why)


class SandboxEngine(Engine):
    """A template engine whose only builtins are this module's tags and filters."""

    default_builtins = [__name__]

    def __init__(self, *, autoescape: bool = True) -> None:
        # No loaders and no libraries: nothing to include, extend or load even if a tag got in.
        super().__init__(loaders=[], libraries={}, autoescape=autoescape)


def plain_data(value: Any) -> Any:
    """`value` copied as plain data (dict with str keys, list, str, int, float, bool, None);
    decimals become text. Raises TypeError on anything else, naming its type."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("template variables: mapping keys must be strings")
        return {str(key): plain_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_data(item) for item in value]
    # Subclasses (a TextChoices member, an IntEnum) become their base type, without their methods.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str | Decimal):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    raise TypeError(
        f"template variables must be plain data (dict, list, str, number, None), not {type(value).__name__}"
    )
