"""Running jobs: `kinds` maps a job kind to its config type and stage entry, `worker` runs one job in
its own process, `runner.LocalRunner` claims queued jobs and supervises their workers (cancel,
recovery), `procrastinate_engine` hands them to a PostgreSQL-backed queue instead. Importing this
package loads nothing heavy."""
