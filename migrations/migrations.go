// Package migrations embeds the database schema files of the backends.
//
// SQLite holds sqlite/NNNN_name.sql files; the SQLite backend applies, in
// ascending NNNN order, every file whose number is above the version
// recorded in the database's schema_version table, each in one transaction.
// Files are never edited once released: a schema change is a new file.
package migrations

import "embed"

// SQLite is the schema of the SQLite backend (mail/sqlite).
//
//go:embed sqlite/*.sql
var SQLite embed.FS
