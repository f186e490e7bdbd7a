-- CSV imports of contacts and accounts: one row per import with its
-- settings and running counts, and the problems of the rows it rejected
-- (the downloadable rejects report). Times are UTC epoch milliseconds.

CREATE TABLE imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    object TEXT NOT NULL,
    file_name TEXT,
    mode TEXT NOT NULL,
    match_by TEXT NOT NULL,
    dry_run BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    rows_read BIGINT NOT NULL DEFAULT 0,
    rows_created BIGINT NOT NULL DEFAULT 0,
    rows_updated BIGINT NOT NULL DEFAULT 0,
    rows_unchanged BIGINT NOT NULL DEFAULT 0,
    rows_rejected BIGINT NOT NULL DEFAULT 0,
    problems BIGINT NOT NULL DEFAULT 0,
    error_code TEXT,
    error_message TEXT,
    actor_user_id BIGINT,
    actor_token_id BIGINT,
    actor TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE UNIQUE INDEX imports_workspace_id ON imports (workspace_id, id);

CREATE TABLE import_rejects (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    import_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    line BIGINT NOT NULL,
    column_name TEXT NOT NULL,
    value TEXT NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (workspace_id, import_id, seq),
    FOREIGN KEY (workspace_id, import_id) REFERENCES imports (workspace_id, id)
);
