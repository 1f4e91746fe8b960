//go:build race

package sqlstore

// raceEnabled is true when the test binary is built with -race, which makes
// the SQLite engine (pure Go) about twenty times slower.
const raceEnabled = true
