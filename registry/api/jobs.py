"""Verification jobs: requested by authors, run by reference workers through leases."""

from flask.views import MethodView
from flask_smorest import Blueprint

from reproreg.api import current_user
from reproreg.request_scope import current_registry, db_session
from reproreg.services import jobs
from reproreg.unit_of_work import after_commit
from reproreg_schemas.jobs import (
    FailSchema,
    HeartbeatSchema,
    JobSchema,
    LeaseRequestSchema,
    RunnableQuerySchema,
    RunnableSchema,
)

blp = Blueprint("jobs", __name__, url_prefix="/api/v1", description="Reference verification jobs")


@blp.route("/artifacts/<namespace>/<name>/versions/<reference>/jobs")
class RequestJob(MethodView):
    @blp.response(201, JobSchema)
    def post(self, namespace, name, reference):
        """Ask the reference workers to verify this version (its author, or its venue's chairs and reviewers)."""
        session = db_session()
        job = jobs.request_job(session, current_user(), f"{namespace}/{name}", reference)
        job_id, accelerator, budget_s = job.id, job.accelerator, jobs.time_budget_s(job.version)
        memory = jobs.min_memory_gb(job.version)
        # a worker leases the job by id: it must be committed before anyone hears of it
        after_commit(session, lambda: current_registry().dispatcher.dispatch(job_id, accelerator, budget_s, memory))
        return jobs.job_document(job)


@blp.route("/jobs/<job_id>")
class Job(MethodView):
    @blp.response(200, JobSchema)
    def get(self, job_id):
        """A job's state, attempt, worker and log. A job that ran and recorded its verification has succeeded,
        whatever it found: ``outcome`` says what (reproduced, claim_failed, evaluation_failed). A job that could not
        run is in state error, with the reason in ``failure``."""
        return jobs.job_document(jobs.get_job(db_session(), current_user(), job_id))


@blp.route("/jobs/runnable")
class Runnable(MethodView):
    @blp.arguments(RunnableQuerySchema, location="query")
    @blp.response(200, RunnableSchema)
    def get(self, query):
        """Jobs waiting too long or whose worker stopped heartbeating (workers re-dispatch them)."""
        return {"jobs": jobs.runnable_jobs(db_session(), current_user(), query["accelerator"], query["older_than_s"])}


@blp.route("/jobs/<job_id>/lease")
class Lease(MethodView):
    @blp.arguments(LeaseRequestSchema)
    @blp.response(200, JobSchema)
    def post(self, body, job_id):
        """Take a runnable job (reference workers only); 409 JOB_NOT_AVAILABLE when it is not runnable."""
        job = jobs.lease(db_session(), current_user(), job_id, body["worker"], body["accelerators"], body["hardware"],
                         current_registry().settings.job_lease_s)
        return {**jobs.job_document(job), "lease": job.lease_token}


@blp.route("/jobs/<job_id>/heartbeat")
class Heartbeat(MethodView):
    @blp.arguments(HeartbeatSchema)
    @blp.response(200, JobSchema)
    def post(self, body, job_id):
        """Extend the lease and append to the job's log."""
        return jobs.job_document(jobs.heartbeat(db_session(), current_user(), job_id, body["lease"], body["log"],
                                                current_registry().settings.job_lease_s))


@blp.route("/jobs/<job_id>/fail")
class Fail(MethodView):
    @blp.arguments(FailSchema)
    @blp.response(200, JobSchema)
    def post(self, body, job_id):
        """End the job without a report (state error), with the reason; a reason that starts with "integrity
        failure: " says that the files failed their hash check."""
        return jobs.job_document(jobs.fail(db_session(), current_user(), job_id, body["lease"], body["failure"]))
