"""Sending jobs through Celery (Redis or RabbitMQ as broker). The registry only sends: the reference workers
consume, with the settings that make a delivery survive crashes (see ``reproreg_worker.celery_consumer``). The
task name, the queues and the time limits are the contract in ``reproreg_schemas.jobs``."""

from celery import Celery

from reproreg_schemas.jobs import VERIFY_TASK, message_options


def make_sender(broker_url: str) -> Celery:
    if not broker_url:
        raise ValueError("REGISTRY_BROKER_URL is required for REGISTRY_JOBS=celery (e.g. redis://127.0.0.1:6379/0)")
    app = Celery("registry", broker=broker_url)
    app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True)
    return app


class CeleryDispatcher:
    def __init__(self, broker_url: str, prefix: str = ""):
        self.prefix = prefix
        self.app = make_sender(broker_url)

    def dispatch(self, job_id: str, accelerator: str, timeout_s: int, min_memory_gb: float | None = None) -> None:
        options = message_options(self.prefix, accelerator, timeout_s, min_memory_gb)
        self.app.send_task(VERIFY_TASK, args=[job_id], **options)
