package health

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mutt-go/mutt/internal/config"
)

// Thresholds of the checks that warn before anything fails.
const (
	// MemoryWarnRatio is the share of Redis maxmemory above which the
	// redis check warns: queues and dead letters live there.
	MemoryWarnRatio = 0.8
	// IngestWarnRatio is the share of the ingest queue cap above which the
	// ingest queue warns: at the cap the ingestor refuses events.
	IngestWarnRatio = 0.9
	// DLQWarnDepth is the dead-letter depth above which a DLQ warns (the
	// MUTTMoogDLQDepthHigh alert level).
	DLQWarnDepth = 100
)

// queueSpec is one queue to measure and the depth above which it warns.
type queueSpec struct {
	name   string // check name
	key    string // Redis key, or the embedded queue's name
	warnAt int64
	why    string // what warnAt is
	dead   bool   // a dead-letter queue (its own table in the embedded database)
}

// queueSpecs lists the work queues and DLQs of cfg with their thresholds.
func queueSpecs(cfg config.Config) []queueSpec {
	k := cfg.Keys
	ingestWarn := int64(float64(cfg.Ingest.MaxQueueSize) * IngestWarnRatio)
	return []queueSpec{
		{"queue.ingest", k.IngestQueue, ingestWarn,
			fmt.Sprintf("%.0f%% of the ingest cap %d", IngestWarnRatio*100, cfg.Ingest.MaxQueueSize), false},
		{"queue.alert", k.AlertQueue, cfg.Alerter.Shedding.WarnThreshold, "the alerter's warn threshold", false},
		{"queue.dlq_alerter", k.AlerterDLQ, DLQWarnDepth, "the dead-letter warn level", true},
		{"queue.dlq_moog", k.MoogDLQ, DLQWarnDepth, "the dead-letter warn level", true},
		{"queue.dlq_dead", k.DeadDLQ, DLQWarnDepth, "the dead-letter warn level", true},
	}
}

// status judges a measured depth.
func (q queueSpec) status(depth int64) (Status, string) {
	if q.warnAt > 0 && depth > q.warnAt {
		return StatusWarn, fmt.Sprintf("%s: %d entries, above %d (%s)", q.key, depth, q.warnAt, q.why)
	}
	return StatusOK, fmt.Sprintf("%s: %d entries", q.key, depth)
}

// memoryStatus judges the used_memory and maxmemory fields of an INFO
// memory reply. Without maxmemory Redis grows until the host runs out,
// which no ratio can tell, so it is reported but not judged.
func memoryStatus(info string) (Status, string) {
	fields := map[string]string{}
	for line := range strings.Lines(info) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	used, err := strconv.ParseInt(fields["used_memory"], 10, 64)
	if err != nil {
		return StatusWarn, "INFO memory has no used_memory"
	}
	limit, _ := strconv.ParseInt(fields["maxmemory"], 10, 64)
	if limit <= 0 {
		return StatusOK, fmt.Sprintf("used_memory %s, no maxmemory", FormatBytes(used))
	}
	ratio := float64(used) / float64(limit)
	detail := fmt.Sprintf("used_memory %s of maxmemory %s (%.0f%%)", FormatBytes(used), FormatBytes(limit), ratio*100)
	if ratio >= MemoryWarnRatio {
		return StatusWarn, detail + fmt.Sprintf(", at or above %.0f%%: raise maxmemory or drain queues", MemoryWarnRatio*100)
	}
	return StatusOK, detail
}

// FormatBytes prints a byte count in binary units ("512 B", "1.5 MiB").
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
