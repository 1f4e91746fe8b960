// Package ratestats summarises the ingest rate from the per-minute and
// per-hour counters the ingestor increments in Redis
// (<prefix>:1m:YYYY-MM-DDTHH:MM, <prefix>:1h:YYYY-MM-DDTHH, UTC): the
// current, 15-minute and 60-minute rates and a 24-hour chart, read with a
// single MGET of keys computed from the clock, never a SCAN.
//
// It must not import other MUTT packages.
package ratestats
