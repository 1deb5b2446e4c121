-- Eider SQLite schema, version 4: a list-ready summary per message.
--
-- A message listing (REST API message list) needs, besides the columns it
-- already reads (uid, flags, dates, size, subject, intro, thread), the
-- message's address lists. They used to be cut out of message_data.meta,
-- which also holds the plain text, the HTML and the MIME tree: a page of
-- 20 read tens of kilobytes. summary holds just the address lists, as the
-- JSON object package mail writes at append (mail.ListAddresses): keys
-- "from", "to", "cc", "bcc", each an array of {"name","addr"} objects,
-- absent when empty. It is the last column of messages, so reads of the
-- other columns never step over it.
ALTER TABLE messages ADD COLUMN summary BLOB;

-- Backfill from the stored Meta. json_patch with null members drops them
-- (RFC 7396 §2), which gives the same keys as the Go encoder's omitempty.
-- Meta is stored as a BLOB, which the JSON functions would take for JSONB:
-- it is cast to TEXT first. A row whose Meta is missing or not JSON keeps
-- a NULL summary (package mail then falls back to Meta).
UPDATE messages SET summary = (
	SELECT CAST(json_patch('{}', json_object(
		'from', j -> '$.from', 'to', j -> '$.to', 'cc', j -> '$.cc', 'bcc', j -> '$.bcc')) AS BLOB)
	FROM (SELECT CAST(d.meta AS TEXT) AS j FROM message_data d WHERE d.mno = messages.mno)
	WHERE json_valid(j)
);
