//go:build !race

package sqlstore

// raceEnabled is true when the test binary is built with -race.
const raceEnabled = false
