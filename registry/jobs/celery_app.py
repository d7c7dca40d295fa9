"""Celery as the trigger of verification jobs (Redis or RabbitMQ as broker).

Celery alone does not make jobs survive crashes: a task killed by a signal can still be acknowledged, and a
redelivery after the visibility timeout can run a job twice. So: acks late, prefetch 1, reject on a lost
worker, time limits per message, and above all the lease in the job's row, which makes a second delivery a
no-op and lets an expired lease be taken again (at most three attempts)."""

from celery import Celery

TASK = "registry.verify_job"
MARGIN_S = 600


def queue_name(prefix: str, accelerator: str) -> str:
    return f"{prefix}verify.{accelerator}"


def make_celery(broker_url: str, prefix: str = "") -> Celery:
    if not broker_url:
        raise ValueError("REGISTRY_BROKER_URL is required for REGISTRY_JOBS=celery (e.g. redis://127.0.0.1:6379/0)")
    app = Celery("registry", broker=broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=queue_name(prefix, "cpu"),
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 6 * 3600},
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    return app


class CeleryDispatcher:
    def __init__(self, broker_url: str, prefix: str = ""):
        self.prefix = prefix
        self.app = make_celery(broker_url, prefix)

    def dispatch(self, job_id: str, accelerator: str, timeout_s: int) -> None:
        self.app.send_task(TASK, args=[job_id], queue=queue_name(self.prefix, accelerator),
                           soft_time_limit=timeout_s + MARGIN_S // 2, time_limit=timeout_s + MARGIN_S)
