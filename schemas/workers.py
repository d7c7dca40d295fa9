"""Reference workers on the wire: the hardware a worker registers (``PUT /api/v1/workers/<name>``) and how GPU
memory is counted.

GPU memory is counted in gigabytes of 10^9 bytes, as GPU makers name their cards: nvidia-smi reports MiB, and
an "A100-80GB" (81920 MiB) has 85.9 GB, an "H100-80GB" (81559 MiB) 85.5 GB, a "T4" (15360 MiB) 16.1 GB. So a
card always has at least the memory in its name, and a requirement ``gpu: {min_memory_gb: 80}`` is met by an
80 GB card with no tolerance to argue about.
"""

from marshmallow import fields, validate

from reproreg_schemas.jobs import ACCELERATORS
from reproreg_schemas.messages import Schema

#: a worker not seen for this long (its poller refreshes the registration every poll) no longer counts when the
#: registry decides whether any worker can run a job
WORKER_SEEN_WITHIN_S = 3600

WORKER_NAME = validate.Length(min=1, max=100)


def memory_gb_from_mib(mib: float) -> float:
    """nvidia-smi's MiB as gigabytes (10^9 bytes), to one decimal, never rounded up past what the card has."""
    return int(mib * 2**20 / 1e8) / 10


def has_memory(memory_gb: float | None, min_memory_gb: float | None) -> bool:
    """Whether a GPU of ``memory_gb`` meets a requirement of ``min_memory_gb`` (none: any GPU does)."""
    if min_memory_gb is None:
        return True
    return memory_gb is not None and memory_gb >= min_memory_gb


class GpuSchema(Schema):
    model = fields.String(required=True, validate=validate.Length(min=1, max=200))
    memory_gb = fields.Float(required=True, validate=validate.Range(min=0, max=100000))
    count = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1024))


class WorkerRegistrationSchema(Schema):
    accelerators = fields.List(fields.String(validate=ACCELERATORS), required=True, validate=validate.Length(min=1))
    gpu = fields.Nested(GpuSchema, allow_none=True, load_default=None, metadata={
        "description": "the worker's GPUs (model, memory of each in GB of 10^9 bytes, count); null for none"})


class WorkerSchema(Schema):
    name = fields.String()
    owner = fields.String()
    accelerators = fields.List(fields.String())
    gpu = fields.Nested(GpuSchema, allow_none=True)
    registered_at = fields.DateTime()
    last_seen_at = fields.DateTime()


class WorkerListSchema(Schema):
    workers = fields.List(fields.Nested(WorkerSchema))
