-- One meeting, many copies: every connected rep's copy of a meeting (one iCalUID within a
-- CRM account) is linked, and one of them, the decider, converges the CRM meeting. Copies
-- share the decider's CRM ids, so the CRM event id is unique among deciders only.
-- Existing links are deciders; their iCalUID is filled in by their next reconcile.
ALTER TABLE sync_links ADD COLUMN ical_uid text;
ALTER TABLE sync_links ADD COLUMN role text NOT NULL DEFAULT 'decider'
    CHECK (role IN ('decider', 'copy'));
ALTER TABLE sync_links ADD COLUMN organizer_copy boolean NOT NULL DEFAULT false;
ALTER TABLE sync_links DROP CONSTRAINT sync_links_status_check;
ALTER TABLE sync_links ADD CONSTRAINT sync_links_status_check
    CHECK (status IN ('active', 'canceled', 'deleted', 'detached'));
DROP INDEX sync_links_crm_event_idx;
CREATE UNIQUE INDEX sync_links_crm_event_idx ON sync_links (crm_account_id, crm_event_id)
    WHERE crm_event_id IS NOT NULL AND role = 'decider';
CREATE UNIQUE INDEX sync_links_meeting_idx ON sync_links (crm_account_id, ical_uid)
    WHERE ical_uid IS NOT NULL AND role = 'decider';
