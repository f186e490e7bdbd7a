-- Data in: sources and their write keys, behavioural events, the identities
-- that resolve to a person, the merges between people, and the catalogue of
-- event names seen. Times are UTC epoch milliseconds.

CREATE TABLE sources (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    write_key_prefix TEXT NOT NULL,
    write_key_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX sources_write_key_hash ON sources (write_key_hash);
CREATE UNIQUE INDEX sources_workspace_id ON sources (workspace_id, id);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    source_id BIGINT NOT NULL,
    contact_id BIGINT,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    user_id TEXT,
    anonymous_id TEXT,
    properties TEXT NOT NULL DEFAULT '{}',
    context TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX events_dedupe ON events (workspace_id, source_id, message_id);
CREATE INDEX events_contact_time ON events (workspace_id, contact_id, at);
CREATE INDEX events_name_time ON events (workspace_id, name, at);

CREATE TABLE identities (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    contact_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, kind, value)
);
CREATE INDEX identities_contact ON identities (workspace_id, contact_id);

CREATE TABLE merges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    winner_id BIGINT NOT NULL,
    loser_id BIGINT NOT NULL,
    reason TEXT NOT NULL,
    identities TEXT NOT NULL DEFAULT '[]',
    message_id TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX merges_workspace_winner ON merges (workspace_id, winner_id);

CREATE TABLE event_types (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    count BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    property_keys TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (workspace_id, type, name)
);

-- Trait keys sent that the data model has no field for, kept or refused
-- per the workspace setting, so the admin sees them either way.
CREATE TABLE undeclared_traits (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    object TEXT NOT NULL,
    key TEXT NOT NULL,
    count BIGINT NOT NULL,
    kept BOOLEAN NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    last_value TEXT,
    PRIMARY KEY (workspace_id, object, key)
);

-- Traits sent for fields the data model does not have, kept for the admin to see.
ALTER TABLE contacts ADD COLUMN traits TEXT NOT NULL DEFAULT '{}';
ALTER TABLE accounts ADD COLUMN traits TEXT NOT NULL DEFAULT '{}';
-- When the person last did something (their latest event).
ALTER TABLE contacts ADD COLUMN last_seen_at BIGINT;
