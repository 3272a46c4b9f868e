-- The meeting's further CRM people (every guest after the first), as the sync related them
-- to the CRM meeting (Salesforce EventRelation), so a guest who leaves the calendar event
-- leaves the CRM meeting too, and people a CRM user related by hand are never touched.
ALTER TABLE sync_links ADD COLUMN crm_people text[] NOT NULL DEFAULT '{}';
