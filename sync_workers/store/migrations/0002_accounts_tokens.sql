-- Connected provider accounts and their OAuth tokens (encrypted by the application with
-- keys from SYNC_SECRET_KEY: this database never sees a token in plaintext).
CREATE TABLE accounts (
    id                  bigserial   PRIMARY KEY,
    provider            text        NOT NULL,
    external_account_id text        NOT NULL,  -- the provider's id of the user or org
    owner               text        NOT NULL,  -- who connected it (from the connect link)
    status              text        NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'reauth_required', 'disabled')),
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    status_changed_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, external_account_id)
);
CREATE INDEX accounts_status_idx ON accounts (status);

-- One row per account; its row lock is the single-flight lock of a refresh.
CREATE TABLE oauth_tokens (
    account_id        bigint      PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    access_token_enc  text        NOT NULL,  -- Fernet token
    refresh_token_enc text,                  -- Fernet token; NULL when the grant has none
    expires_at        timestamptz,           -- NULL: the provider does not say (Salesforce)
    extras            jsonb       NOT NULL DEFAULT '{}',  -- e.g. Salesforce instance_url
    version           integer     NOT NULL DEFAULT 1,     -- +1 on every change
    refreshed_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
