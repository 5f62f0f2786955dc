"""Bad cases, in one place: the model (`models`), creating one (`cases`), snapshots of served
lists, customer feedback, the detectors, one-click resolutions, the regression replay and the
review queue's admin."""
