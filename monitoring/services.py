"""Drift detection: build a reference from one window, compare later windows with it, keep the
history. Threshold, window and memory budget come from settings (`DRIFT_PSI_THRESHOLD`,
`DRIFT_WINDOW_HOURS`, `DRIFT_MEMORY_BUDGET_MB`)."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from monitoring.budget import drift_share
from monitoring.distributions import Window, signals_measure
from monitoring.drift_stats import cosine_distance, drift_score
from monitoring.models import DriftReference, DriftReport, Signal
from recommendations.public import embedding_model_name
from recsite.memory import peak_rss_mb

logger = logging.getLogger(__name__)


class NoReference(Exception):
    """No drift reference has been built yet."""


def drift_reference_build(
    *, window_start: dt.datetime | None, window_end: dt.datetime, seed: int = 0, customer_share: float | None = None
) -> DriftReference:
    """Measure every signal in the window and store the samples as the new reference.

    `customer_share`: the share of the customers loaded (None: what DRIFT_MEMORY_BUDGET_MB allows,
    logged; MemoryBudgetError, before anything is stored, when the job cannot fit it)."""
    window = Window(start=window_start, end=window_end)
    share = drift_share(window=window) if customer_share is None else customer_share
    measured = signals_measure(window=window, seed=seed, customer_share=share)
    logger.info("drift reference: peak memory %.0f MB", peak_rss_mb())
    return DriftReference.objects.create(
        window_start=window_start,
        window_end=window_end,
        model_name=embedding_model_name(),
        samples={signal: np.sort(values).round(6).tolist() for signal, values in measured.samples.items()},
        mean_embedding=measured.mean_embedding.round(6).tolist(),
    )


def drift_check(
    *,
    window_start: dt.datetime,
    window_end: dt.datetime,
    reference: DriftReference | None = None,
    threshold: float | None = None,
    seed: int = 0,
    customer_share: float | None = None,
) -> list[DriftReport]:
    """Compare the window's signals with `reference` (default: the newest) and store one report
    per signal that has samples on both sides. Raises NoReference when there is none.

    `customer_share` as in `drift_reference_build`."""
    reference = reference or DriftReference.objects.first()
    if reference is None:
        raise NoReference("no drift reference: run `manage.py drift reference` first")
    threshold = settings.DRIFT_PSI_THRESHOLD if threshold is None else threshold
    reference_mean = np.asarray(reference.mean_embedding, dtype=np.float64)
    window = Window(start=window_start, end=window_end)
    share = drift_share(window=window) if customer_share is None else customer_share
    measured = signals_measure(window=window, reference_mean=reference_mean, seed=seed, customer_share=share)
    logger.info("drift check: peak memory %.0f MB", peak_rss_mb())
    reports = []
    for signal in Signal.values:
        ref_values = np.asarray(reference.samples.get(signal, []), dtype=np.float64)
        cur_values = measured.samples[signal]
        if not len(ref_values) or not len(cur_values):
            logger.info("drift %s: no samples (reference %d, current %d)", signal, len(ref_values), len(cur_values))
            continue
        score = drift_score(reference=ref_values, current=cur_values)
        shift = None
        if signal == Signal.MEAN_EMBEDDING and len(reference_mean) == len(measured.mean_embedding):
            shift = cosine_distance(reference_mean, measured.mean_embedding)
        reports.append(
            DriftReport(
                reference=reference,
                signal=signal,
                window_start=window_start,
                window_end=window_end,
                model_name=embedding_model_name(),
                psi=score.psi,
                ks_statistic=score.ks_statistic,
                ks_p_value=score.ks_p_value,
                n_reference=score.n_reference,
                n_current=score.n_current,
                mean_shift=shift,
                threshold=threshold,
                alert=score.psi > threshold,
            )
        )
    with transaction.atomic():
        DriftReport.objects.bulk_create(reports)
    for report in reports:
        if report.alert:
            logger.warning("drift alert: %s PSI %.3f > %.3f", report.signal, report.psi, threshold)
    return reports


def drift_check_recent(*, now: dt.datetime | None = None) -> list[DriftReport]:
    """The periodic check: the last `DRIFT_WINDOW_HOURS` against the newest reference (nothing
    when no reference exists yet)."""
    now = now or timezone.now()
    try:
        return drift_check(window_start=now - dt.timedelta(hours=settings.DRIFT_WINDOW_HOURS), window_end=now)
    except NoReference:
        logger.info("drift check skipped: no reference yet")
        return []
