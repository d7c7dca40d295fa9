"""The reference worker: an HTTP client of the registry like any reviewer. It leases a job, runs the same
verification as ``regctl verify`` (pull, hash-check, sandbox, judge), signs the report with its own key and
submits it with the lease. It uses regctl and the wire contract (``reproreg_schemas``), never the registry's code.

Two ways to run it, both found by the registry's command line through the ``reproreg.worker`` entry points:

- ``embedded``: the executor inside ``registry serve`` (a thread that runs jobs over HTTP);
- ``celery``: ``registry worker``, a Celery worker on a GPU node taking jobs from the broker's queues.

Everything a worker needs is passed to it: its home (signing key and cache) and the environment its
evaluations start from. It sets nothing in ``os.environ``.
"""
