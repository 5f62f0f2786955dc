"""Daily quality per placement: exposures, clicks attributed to them, bad cases.

CTR counts click events carrying the recommendation_id of an exposure served that day (the
click may come later); bad-case rate is the placement's bad cases created that day per exposure.
Exposures are logged for lists served inside an experiment, so both rates describe experiment
traffic.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction

from experiments.public import Exposure
from monitoring.models import PlacementDailyQuality
from recommendations.public import BadCase

EXPOSURES_SQL = f"""
SELECT x.placement, count(*) AS exposures,
       coalesce(sum((SELECT count(*) FROM catalog_event ev
                     WHERE ev.recommendation_id = x.recommendation_id AND ev.type = 'click')), 0) AS clicks
FROM {Exposure._meta.db_table} x
WHERE x.created_at >= %s AND x.created_at < %s
GROUP BY x.placement
"""

BAD_CASES_SQL = f"""
SELECT placement, count(*) FROM {BadCase._meta.db_table}
WHERE created_at >= %s AND created_at < %s AND placement <> ''
GROUP BY placement
"""


def placement_quality_build(*, day: dt.date) -> list[PlacementDailyQuality]:
    """Count `day` (UTC) per placement and store it, replacing that day's rows."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(EXPOSURES_SQL, [start, end])
        served = {placement: (exposures, clicks) for placement, exposures, clicks in cursor.fetchall()}
        cursor.execute(BAD_CASES_SQL, [start, end])
        bad = dict(cursor.fetchall())
    rows = [
        PlacementDailyQuality(
            day=day,
            placement=placement,
            exposures=served.get(placement, (0, 0))[0],
            clicks=served.get(placement, (0, 0))[1],
            bad_cases=bad.get(placement, 0),
        )
        for placement in sorted(served.keys() | bad.keys())
    ]
    with transaction.atomic():
        PlacementDailyQuality.objects.filter(day=day).delete()
        PlacementDailyQuality.objects.bulk_create(rows)
    return rows
