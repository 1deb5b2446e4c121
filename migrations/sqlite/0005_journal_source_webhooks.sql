-- Eider SQLite schema, version 5: the journal records where a copied or
-- moved message came from, and outgoing webhooks are stored.
--
-- A ChangeExists entry written by COPY or MOVE names its source mailbox and
-- UID, and whether the source was removed (a move), so that the live update
-- stream can publish message.moved and message.junk / message.notjunk.
-- Older entries keep the defaults (an append).
ALTER TABLE journal ADD COLUMN src_mailbox_id TEXT NOT NULL DEFAULT '';
ALTER TABLE journal ADD COLUMN src_uid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE journal ADD COLUMN moved INTEGER NOT NULL DEFAULT 0;

-- Outgoing webhooks of the installation. events and users are
-- space-separated filters ('' = all).
CREATE TABLE webhooks (
	id      TEXT PRIMARY KEY,
	url     TEXT NOT NULL,
	secret  TEXT NOT NULL,
	events  TEXT NOT NULL DEFAULT '',
	users   TEXT NOT NULL DEFAULT '',
	created INTEGER NOT NULL
);

-- A webhook's delivery position in one user's journal: the last entry
-- whose events were delivered (or given up on).
CREATE TABLE webhook_cursors (
	webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	PRIMARY KEY (webhook_id, user_id)
) WITHOUT ROWID;
