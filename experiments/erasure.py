"""The experiments' part of erasing a customer: their exposure rows. The daily snapshots and the
experiments' exposed-customer counts are sums that name no one, so they stay."""

from __future__ import annotations

from experiments.models import Exposure


def exposures_erase(*, customer_id: str) -> int:
    """Delete every exposure of `customer_id`; how many there were."""
    deleted, _ = Exposure.objects.filter(customer_external_id=customer_id).delete()
    return deleted
