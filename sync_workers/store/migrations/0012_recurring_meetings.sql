-- A recurring meeting is synced as its occurrences: each occurrence's link names its series
-- and original start (its key in the series). `calendar_series` is what was last seen of
-- each series: its fingerprint (a series edit re-reads the future occurrences, an edit of
-- one occurrence does not) and how far ahead it has been read (the daily horizon job reads
-- the occurrences that came into the horizon since).
ALTER TABLE sync_links
    ADD COLUMN series_id        text,
    ADD COLUMN occurrence_start timestamptz;
CREATE INDEX sync_links_series_idx ON sync_links (calendar_account_id, series_id)
    WHERE series_id IS NOT NULL;

CREATE TABLE calendar_series (
    account_id     bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    series_id      text        NOT NULL,
    fingerprint    text        NOT NULL,
    first_start    timestamptz,  -- the master's start: when it moves, occurrence ids change
    read_until     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, series_id)
);
