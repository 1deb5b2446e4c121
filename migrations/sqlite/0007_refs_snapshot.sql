-- Eider SQLite schema, version 7: persisted listings of large mailboxes.
--
-- A first listing of a large mailbox (IMAP SELECT, UID FETCH 1:* FLAGS
-- after a start) reads every row of messages_refs. refs_snapshot keeps the
-- last full listing of a mailbox, packed (see mail/sqlite/refs_snapshot.go),
-- valid as of the mailbox's highest_modseq `modseq`; a later first listing
-- reads it and merges the messages with a greater MODSEQ, exactly as the
-- in-memory cache of refs.go does, and falls back to the full read when
-- messages were removed since. It is written by the listing that did the
-- full read, never by the write paths.
CREATE TABLE refs_snapshot (
	mbx          INTEGER PRIMARY KEY, -- mailboxes.mbx
	mailbox_id   TEXT NOT NULL,       -- mbx numbers may be reused; IDs are not
	uid_validity INTEGER NOT NULL,
	modseq       INTEGER NOT NULL,
	data         BLOB NOT NULL
);

-- A deleted mailbox takes its snapshot along.
CREATE TRIGGER refs_snapshot_mailbox_ad AFTER DELETE ON mailboxes BEGIN
	DELETE FROM refs_snapshot WHERE mbx = old.mbx;
END;
