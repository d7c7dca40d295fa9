"""Reference workers: each registers its hardware, and the registry knows which jobs some worker can run."""

from flask.views import MethodView
from flask_smorest import Blueprint

from reproreg.api import current_user
from reproreg.request_scope import db_session
from reproreg.services import workers
from reproreg_schemas.workers import WorkerListSchema, WorkerRegistrationSchema, WorkerSchema

blp = Blueprint("workers", __name__, url_prefix="/api/v1", description="Reference workers and their hardware")


@blp.route("/workers/<name>")
class Worker(MethodView):
    @blp.arguments(WorkerRegistrationSchema)
    @blp.response(200, WorkerSchema)
    def put(self, body, name):
        """Register (or refresh) this worker's hardware (reference worker accounts only): its accelerators and
        GPUs. Workers do so at start and at every poll; the registry refuses a GPU job whose memory requirement
        no worker seen recently meets (409 NO_CAPABLE_WORKER)."""
        worker = workers.register(db_session(), current_user(), name, body["accelerators"], body["gpu"])
        return workers.worker_document(worker)


@blp.route("/workers")
class Workers(MethodView):
    @blp.response(200, WorkerListSchema)
    def get(self):
        """The reference workers seen recently, with their hardware."""
        return {"workers": [workers.worker_document(worker) for worker in workers.recently_seen(db_session())]}
