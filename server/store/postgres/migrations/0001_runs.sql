-- The run store's tables, as SQLite's layout 3 (server/store/sqlite/schema.rs)
-- has them: summaries apart from logs, so a status request or a retention
-- pass never reads a log.
CREATE TABLE runs (
    id             TEXT PRIMARY KEY,
    demo           TEXT NOT NULL,
    -- JSON as the server wrote it (text, not jsonb: read back byte for byte).
    params         TEXT NOT NULL,
    engine         TEXT NOT NULL,
    -- ClientKey's text (an IPv4 address or an IPv6 /64); NULL: unknown.
    client         TEXT,
    -- 'interrupted' from the run's start until its real end replaces it.
    outcome        TEXT NOT NULL,
    reason         TEXT,
    created_at_ms  BIGINT NOT NULL,
    finished_at_ms BIGINT NOT NULL,
    -- When a page, stream or export last opened the finished run.
    last_opened_ms BIGINT,
    event_count    BIGINT NOT NULL,
    bytes          BIGINT NOT NULL,
    -- An edited program; NULL: the demo's own, with params.
    source         TEXT
);
CREATE INDEX runs_by_age ON runs (finished_at_ms);
CREATE INDEX runs_by_client ON runs (client, finished_at_ms);

-- The log: its events, one JSON line each, joined by newlines.
CREATE TABLE run_events (
    id     TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    events BYTEA NOT NULL
);

-- An experiment's report, JSON, once it is done.
CREATE TABLE experiments (
    id            TEXT PRIMARY KEY,
    report        TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX experiments_by_age ON experiments (created_at_ms);
