-- Whose calendar it is, in the CRM: the CRM user (Salesforce User, HubSpot owner) of the rep
-- the calendar belongs to. A CRM meeting reaches only the calendar of the user who owns it,
-- and meetings the sync creates in the CRM are owned by that user. Pairs made before this
-- have none until `sync-workers pair` runs again: meanwhile no CRM meeting reaches them.
ALTER TABLE sync_pairs ADD COLUMN crm_user_id text;
CREATE UNIQUE INDEX sync_pairs_crm_user_idx ON sync_pairs (crm_account_id, crm_user_id)
    WHERE crm_user_id IS NOT NULL;
