"""Bad cases on the recommendation side: snapshots of served lists, customer feedback, the
detectors, one-click resolutions and the regression replay. The `BadCase` model and
`badcase_create` live in experiments (experiments.badcases); this package feeds and fixes them."""
