-- Tasks stopped because their account needs re-authorisation: recorded once per task,
-- never dead-lettered. A reconnect schedules a full reconciliation of the account, which
-- supersedes them (state, not triggers: the reconciliation converges what they would have).
CREATE TABLE parked_tasks (
    id                  bigserial   PRIMARY KEY,
    task_id             text        NOT NULL UNIQUE,  -- a redelivered task parks once
    task_name           text        NOT NULL,
    args                jsonb       NOT NULL DEFAULT '[]',
    kwargs              jsonb       NOT NULL DEFAULT '{}',
    account_id          bigint      REFERENCES accounts (id) ON DELETE CASCADE,
    reason              text        NOT NULL,
    request_id          text,
    status              text        NOT NULL DEFAULT 'parked'
                        CHECK (status IN ('parked', 'superseded')),
    superseded_by       text,       -- task id of the reconciliation that replaced it
    parked_at           timestamptz NOT NULL DEFAULT now(),
    resolved_at         timestamptz
);
CREATE INDEX parked_tasks_open_idx ON parked_tasks (account_id) WHERE status = 'parked';
