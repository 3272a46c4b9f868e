-- Who a calendar belongs to, beside the provider's stable id (Google's numeric `sub`,
-- Microsoft's `oid`): the owner's e-mail addresses from the same sign-in, kept current on
-- every reconnect. An attendee is "the owner" by the provider's `self` flag, else by these.
ALTER TABLE accounts ADD COLUMN owner_emails text[] NOT NULL DEFAULT '{}';
