-- Event intake: push channels (Google watch), signed webhook endpoints (Salesforce
-- Outbound Messages), and the poller's cursors.
CREATE TABLE push_channels (
    id          bigserial PRIMARY KEY,
    account_id  bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    provider    text        NOT NULL,
    channel_id  text        NOT NULL UNIQUE,
    resource_id text,
    calendar_id text        NOT NULL DEFAULT 'primary',
    token_hash  bytea       NOT NULL,  -- sha256 of the channel token; the token is not kept
    expires_at  timestamptz NOT NULL,
    status      text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'stopped')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    stopped_at  timestamptz
);
CREATE INDEX push_channels_renewal_idx ON push_channels (status, expires_at);

CREATE TABLE webhook_endpoints (
    id              bigserial PRIMARY KEY,
    account_id      bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    provider        text        NOT NULL,
    secret_hash     bytea       NOT NULL,  -- sha256 of the secret in the endpoint URL
    organization_id text,                  -- Salesforce org that may post here
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sync_cursors (
    account_id bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    resource   text        NOT NULL,
    cursor     text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, resource)
);
