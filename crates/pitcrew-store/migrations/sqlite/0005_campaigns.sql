-- Campaigns: the consent ledger, suppression lists, sending providers,
-- email templates, broadcasts, the per-recipient send ledger and what
-- happened to each message afterwards. Times are UTC epoch milliseconds.

ALTER TABLE topics ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE consent_state ADD COLUMN legal_basis TEXT NOT NULL DEFAULT 'consent';

-- Append-only: every opt-in and opt-out, with the wording the person saw.
-- consent_state is derived from it, in the same transaction.
CREATE TABLE consent_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    contact_id BIGINT NOT NULL,
    topic TEXT NOT NULL,
    channel TEXT NOT NULL,
    subscribed BOOLEAN NOT NULL,
    purpose TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    source TEXT NOT NULL,
    wording TEXT NOT NULL DEFAULT '',
    wording_version TEXT NOT NULL DEFAULT '',
    broadcast_id BIGINT,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE UNIQUE INDEX consent_records_workspace_id ON consent_records (workspace_id, id);
CREATE INDEX consent_records_contact ON consent_records (workspace_id, contact_id, at);

-- Addresses that must not be mailed: topic '' means every topic.
CREATE TABLE suppressions (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    email TEXT NOT NULL,
    topic TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, email, topic)
);

-- Soft bounces in a row per address; a delivery resets the count.
CREATE TABLE soft_bounces (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    email TEXT NOT NULL,
    in_a_row BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, email)
);

-- SMTP servers a workspace sends through, with their limits.
CREATE TABLE sending_providers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    host TEXT NOT NULL,
    port BIGINT NOT NULL,
    security TEXT NOT NULL,
    verify_tls BOOLEAN NOT NULL DEFAULT TRUE,
    username TEXT NOT NULL DEFAULT '',
    password TEXT NOT NULL DEFAULT '',
    per_second BIGINT NOT NULL,
    per_hour BIGINT NOT NULL,
    concurrency BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sending_providers_workspace_id ON sending_providers (workspace_id, id);
CREATE UNIQUE INDEX sending_providers_workspace_name ON sending_providers (workspace_id, name);

CREATE TABLE templates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    body TEXT NOT NULL,
    text_body TEXT NOT NULL DEFAULT '',
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX templates_workspace_id ON templates (workspace_id, id);
CREATE UNIQUE INDEX templates_workspace_name ON templates (workspace_id, name);

-- A message to segments. `content` is the template, subject and settings
-- frozen when sending starts, so edits never change an email half-way.
CREATE TABLE broadcasts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    template_id BIGINT,
    subject TEXT NOT NULL DEFAULT '',
    from_name TEXT NOT NULL DEFAULT '',
    from_email TEXT NOT NULL DEFAULT '',
    reply_to TEXT NOT NULL DEFAULT '',
    topic TEXT NOT NULL DEFAULT '',
    segments TEXT NOT NULL DEFAULT '[]',
    exclusions TEXT NOT NULL DEFAULT '[]',
    provider_id BIGINT,
    tracking BOOLEAN NOT NULL,
    utm TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    scheduled_at BIGINT,
    approved_by TEXT,
    approved_at BIGINT,
    content TEXT,
    audience BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE UNIQUE INDEX broadcasts_workspace_id ON broadcasts (workspace_id, id);
CREATE INDEX broadcasts_status ON broadcasts (status, scheduled_at);

-- The send ledger: one row per person in a broadcast's audience, with the
-- decision (queued, deferred, sending, sent, failed, skipped, uncertain)
-- and its reason. A row leaves `sending` only by a recorded outcome.
CREATE TABLE broadcast_recipients (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    broadcast_id BIGINT NOT NULL,
    contact_id BIGINT NOT NULL,
    email TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    not_before BIGINT NOT NULL DEFAULT 0,
    message_id TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT,
    PRIMARY KEY (workspace_id, broadcast_id, contact_id)
);
CREATE INDEX broadcast_recipients_state ON broadcast_recipients (workspace_id, broadcast_id, state, not_before, contact_id);
CREATE INDEX broadcast_recipients_contact ON broadcast_recipients (workspace_id, contact_id, sent_at);
CREATE INDEX broadcast_recipients_message ON broadcast_recipients (workspace_id, message_id);

-- What happened after sending: delivered, bounced, opened, clicked,
-- unsubscribed, complained. `detail` holds the link or the bounce status.
CREATE TABLE message_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    broadcast_id BIGINT NOT NULL,
    contact_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    at BIGINT NOT NULL
);
CREATE INDEX message_events_broadcast ON message_events (workspace_id, broadcast_id, kind, at);

-- Secrets a workspace sends with (the DKIM private key, the key that signs
-- tracking and unsubscribe links), kept apart from settings so they never
-- appear in settings replies or the audit log.
CREATE TABLE workspace_secrets (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, name)
);
