-- A push channel watches the account's primary calendar, the one the sync reads: the
-- calendar_id column was written but never used by any adapter, so it goes.
ALTER TABLE push_channels DROP COLUMN calendar_id;
