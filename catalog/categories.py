"""Category paths (`A > B > C`) as filters: a category and everything under it, for the ORM and for
raw SQL (the recall routes, the rules stage, the rule editor)."""

from __future__ import annotations

from django.db.models import Q

# Category paths are `A > B > C`; a subtree is the path itself and every path under it.
PATH_SEPARATOR = " > "


def category_subtree_q(path: str, *, prefix: str = "") -> Q:
    """Products (reached through `prefix`) in the category `path` or any category below it."""
    return Q(**{f"{prefix}category__path": path}) | Q(**{f"{prefix}category__path__startswith": path + PATH_SEPARATOR})


def category_subtree_like(path: str) -> str:
    """A LIKE pattern matching the paths strictly below `path` (its wildcards escaped)."""
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + PATH_SEPARATOR + "%"
