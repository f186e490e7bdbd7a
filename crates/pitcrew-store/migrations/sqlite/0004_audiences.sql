-- Audiences: saved segments (dynamic conditions and static lists), their
-- versions, static-list members, what each saved definition depends on,
-- and the subscription state the filter language's consent node reads.

CREATE TABLE segments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL,
    kind TEXT NOT NULL,
    definition TEXT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX segments_workspace_id ON segments (workspace_id, id);
CREATE UNIQUE INDEX segments_workspace_name ON segments (workspace_id, name);

CREATE TABLE segment_versions (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    segment_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    definition TEXT,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, segment_id, version)
);

CREATE TABLE segment_members (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    segment_id BIGINT NOT NULL,
    member_id BIGINT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, segment_id, member_id)
);
CREATE INDEX segment_members_member ON segment_members (workspace_id, member_id);

-- What saved definitions use: kind is field_contact, field_account, event,
-- segment or topic; target is the key or name used.
CREATE TABLE dependencies (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    owner_type TEXT NOT NULL,
    owner_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    PRIMARY KEY (workspace_id, owner_type, owner_id, kind, target)
);
CREATE INDEX dependencies_target ON dependencies (workspace_id, kind, target);

CREATE TABLE topics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX topics_workspace_name ON topics (workspace_id, name);

-- The current subscription state per contact, topic and channel.
CREATE TABLE consent_state (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    contact_id BIGINT NOT NULL,
    topic TEXT NOT NULL,
    channel TEXT NOT NULL,
    subscribed BOOLEAN NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, contact_id, topic, channel)
);
