-- Whatever ends a task for good. The system never deletes a row here: people replay or
-- discard, and the row keeps what happened.
CREATE TABLE dead_letters (
    id               bigserial PRIMARY KEY,
    task_id          text        NOT NULL UNIQUE,  -- a task id is mirrored exactly once
    task_name        text        NOT NULL,
    queue            text,
    args             jsonb       NOT NULL DEFAULT '[]',
    kwargs           jsonb       NOT NULL DEFAULT '{}',
    error_type       text        NOT NULL,
    error_message    text        NOT NULL,
    traceback        text,
    attempts         integer     NOT NULL,
    request_id       text,
    account_id       bigint,
    first_failed_at  timestamptz NOT NULL,
    last_failed_at   timestamptz NOT NULL,
    status           text        NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'replayed', 'discarded')),
    replay_of        bigint      REFERENCES dead_letters (id),
    replayed_task_id text,
    replayed_at      timestamptz,
    discard_reason   text,
    discarded_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_status_idx ON dead_letters (status, created_at);
CREATE INDEX dead_letters_task_name_idx ON dead_letters (task_name);
