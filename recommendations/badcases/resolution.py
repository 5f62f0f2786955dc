"""The review queue's actions: triage a case, and the one-click resolutions (hide the item for
that customer, create an exclude rule). The prompt-template resolution comes with the templates."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from recommendations.badcases.feedback import hidden_item_create
from recommendations.badcases.models import BadCase, BadCaseResolution, BadCaseStatus
from recommendations.models import MerchRule, RuleKind
from recommendations.rules.active import rules_forget


class ResolutionError(Exception):
    """A resolution that cannot apply to this case (e.g. no customer to hide the item for)."""


def badcase_triage(*, case_id: int, assignee_id: int | None) -> BadCase:
    """Mark a new case triaged and assign it (a resolved case stays resolved)."""
    case = BadCase.objects.get(pk=case_id)
    if case.status == BadCaseStatus.NEW:
        case.status = BadCaseStatus.TRIAGED
    if assignee_id is not None:
        case.assignee_id = assignee_id
    case.save(update_fields=["status", "assignee"])
    return case


def badcase_resolve(*, case_id: int, resolution: str, ref: str = "", status: str = BadCaseStatus.RESOLVED) -> BadCase:
    """Close a case with `resolution` (resolved, or won't fix)."""
    case = BadCase.objects.get(pk=case_id)
    case.status = status
    case.resolution = resolution
    case.resolution_ref = ref
    case.resolved_at = timezone.now()
    case.save(update_fields=["status", "resolution", "resolution_ref", "resolved_at"])
    return case


def badcase_resolve_hide(*, case_id: int) -> BadCase:
    """Hide the case's item for the case's customer, and resolve the case."""
    case = BadCase.objects.get(pk=case_id)
    if not case.customer_external_id or not case.product_external_id:
        raise ResolutionError("This case names no customer or no item: nothing to hide.")
    with transaction.atomic():
        hidden_item_create(customer_id=case.customer_external_id, product_id=case.product_external_id, source="badcase")
        return badcase_resolve(
            case_id=case_id,
            resolution=BadCaseResolution.HIDDEN_FOR_CUSTOMER,
            ref=f"hidden for {case.customer_external_id}",
        )


def badcase_resolve_exclude(*, case_id: int, all_placements: bool = False) -> tuple[BadCase, int]:
    """Create an active exclude rule for the case's item (on the case's placement unless
    `all_placements`), and resolve the case. Returns the case and the new rule's id."""
    case = BadCase.objects.get(pk=case_id)
    if not case.product_external_id:
        raise ResolutionError("This case names no item: nothing to exclude.")
    with transaction.atomic():
        rule = MerchRule.objects.create(
            name=f"Exclude {case.product_external_id} (bad case #{case.pk})",
            kind=RuleKind.EXCLUDE,
            placement="" if all_placements else case.placement,
            item_ids=case.product_external_id,
        )
        case = badcase_resolve(case_id=case_id, resolution=BadCaseResolution.EXCLUDE_RULE, ref=f"rule {rule.pk}")
    transaction.on_commit(rules_forget)
    return case, rule.pk
