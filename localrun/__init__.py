"""fifo-gate's embedded local runtime (not packaged into Lambda).

``python -m localrun`` runs the real handlers against moto's server, a slow
API stand-in and a scaled clock; ``python -m localrun.aws`` serves just the
queues for ``chalice local``. Module map:

* :mod:`localrun.clock`   deployed timing (simulated seconds), scaled to real seconds
* :mod:`localrun.aws`     moto server and the FIFO queue + DLQ
* :mod:`localrun.api`     the slow API stand-in and the concurrency meter
* :mod:`localrun.poller`  Lambda's SQS poller (events, context, delete/leave)
* :mod:`localrun.runner`  the schedule, the timeline and the run as a whole
* :mod:`localrun.summary` the summary's measures and invariants
"""
