"""Reports: the run's results as one data model (``results``), rendered by each output."""
