//go:build race

package sqlite

// raceEnabled: the race detector slows the transpiled SQLite about tenfold,
// so the exhaustive code point test samples instead (see sqliteClasses).
const raceEnabled = true
