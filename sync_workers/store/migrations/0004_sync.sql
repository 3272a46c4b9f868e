-- The sync itself: which calendar pairs with which CRM, the links between records, the
-- audit trail of every field a reconcile changed, and idempotency keys.
CREATE TABLE sync_pairs (
    calendar_account_id bigint PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    crm_account_id      bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_pairs_crm_idx ON sync_pairs (crm_account_id);

-- Both sides' immutable ids; e-mail is never a key (last_contact_email is only the value
-- last written, kept to replace the right attendee when it changes).
CREATE TABLE sync_links (
    id                   bigserial   PRIMARY KEY,
    calendar_account_id  bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    crm_account_id       bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    calendar_event_id    text        NOT NULL,
    crm_event_id         text,
    crm_contact_id       text,
    calendar_fingerprint text,
    crm_fingerprint      text,
    calendar_version     text,
    crm_version          text,
    status               text        NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'canceled', 'deleted')),
    last_contact_email   text,
    origin               text        NOT NULL CHECK (origin IN ('calendar', 'crm')),
    reconciled_at        timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (calendar_account_id, calendar_event_id)
);
CREATE UNIQUE INDEX sync_links_crm_event_idx ON sync_links (crm_account_id, crm_event_id)
    WHERE crm_event_id IS NOT NULL;
CREATE INDEX sync_links_contact_idx ON sync_links (crm_account_id, crm_contact_id);

CREATE TABLE sync_log (
    id          bigserial   PRIMARY KEY,
    link_id     bigint      NOT NULL REFERENCES sync_links (id) ON DELETE CASCADE,
    side        text        NOT NULL CHECK (side IN ('calendar', 'crm')),
    action      text        NOT NULL,  -- create / update / delete
    field       text        NOT NULL,
    old_value   text,
    new_value   text,
    request_id  text,
    task_id     text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_log_link_idx ON sync_log (link_id, at DESC);

-- A key is written before the call it protects and reused by every retry of that call.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,  -- e.g. link:42
    operation    text        NOT NULL,  -- e.g. create_contact
    key          text        NOT NULL UNIQUE,
    result       text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (scope, operation)
);
