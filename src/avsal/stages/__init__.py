"""One ``run(cfg, ...)`` per pipeline stage; it returns the stage's metrics.

The CLIs in ``pipelines/`` and the tests call the same functions.
"""
