// Package mongo embeds the collection and index migrations of the MongoDB
// backend (mail/mongo).
//
// Files are NNNN_name.json, applied in ascending NNNN order at open. Each
// file is a JSON array of steps; a step creates a collection or an index.
// Every step is idempotent (an existing collection or an identical index is
// not an error), so several instances starting at once may run the same
// migration concurrently; each records {_id: NNNN} in the "migrations"
// collection once the migration has been applied. Files are never edited
// once released: a change is a new file.
package mongo

import "embed"

// Files holds the migration files.
//
//go:embed *.json
var Files embed.FS
