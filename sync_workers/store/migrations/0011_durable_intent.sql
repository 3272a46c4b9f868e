-- "This link must be reconciled", kept in PostgreSQL: set by whatever triggers a reconcile
-- (a listing, in the transaction that advances its cursor; an Outbound Message; a
-- reconnect) and cleared only by a reconcile that read the link after the last trigger
-- (compare `dirty_seq`). The intent sweeper re-enqueues what stays dirty, so a publish lost
-- to a killed worker or a broker that forgot its queue delays a booking, never loses it.
ALTER TABLE sync_links
    ADD COLUMN dirty_since timestamptz,
    ADD COLUMN dirty_seq   bigint NOT NULL DEFAULT 0;
CREATE INDEX sync_links_dirty ON sync_links (dirty_since) WHERE dirty_since IS NOT NULL;
