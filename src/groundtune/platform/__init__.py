"""The platform: every stage run as a job. `store/` is the SQL registry (jobs, events, API keys,
idempotency records, deployments), `jobs/` runs jobs (kinds -> stage entries, worker subprocesses,
recovery), `api/` serves them over HTTP. Imports go one way: platform imports core and the stages;
nothing but the CLI imports platform."""
