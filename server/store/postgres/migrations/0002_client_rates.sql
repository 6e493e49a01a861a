-- Every client's run rate (server/runs/rate.rs), shared by the instances:
-- a token bucket per client. A bucket that is full again (full_at_ms past)
-- is deleted, since a new one starts full.
CREATE TABLE client_rates (
    client     TEXT PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    at_ms      BIGINT NOT NULL,
    full_at_ms BIGINT NOT NULL
);
CREATE INDEX client_rates_by_full ON client_rates (full_at_ms);
