"""The platform: every stage as a job behind a REST API. `store/` is the SQL registry (jobs, events,
API keys, idempotency records, deployments), `jobs/` runs jobs in worker processes, `api/` is the
FastAPI app. Imports go one way: platform imports core, the stages, pipelines and serve; only the
CLI imports platform."""
