-- Eider SQLite schema, version 8: find \Deleted messages without a scan.
--
-- EXPUNGE (and POP3's QUIT, API deletes of flagged mail) selects the
-- messages of a mailbox that carry \Deleted (messages.sys bit 8). Without
-- an index that read every row of the mailbox, whole, on every EXPUNGE.
-- The partial index holds only the flagged rows; its WHERE term is written
-- exactly as the query writes it (mail/sqlite remove), which is how SQLite
-- knows it may use it.
CREATE INDEX messages_deleted ON messages(mbx, uid) WHERE sys & 8 != 0;
