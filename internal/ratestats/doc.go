// Package ratestats summarises the ingest rate from per-minute and per-hour
// counters read through a Source: the ones the ingestor increments in Redis
// (<prefix>:1m:YYYY-MM-DDTHH:MM, <prefix>:1h:YYYY-MM-DDTHH, UTC; RedisSource),
// or the minute counts of the embedded database. It reports the current,
// 15-minute and 60-minute rates and a 24-hour chart.
//
// It imports only the rediskeys package of MUTT.
package ratestats
