package dlqadmin

import (
	"fmt"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/queue"
)

// Queue is one dead-letter queue.
type Queue struct {
	Name string // alerter, moog or dead
	Key  string // its Redis key
	// Target is where replayed entries go; "" for the dead queue, whose
	// entries go back where each one came from.
	Target string
}

// Queues lists the three dead-letter queues: alerter, moog and dead.
func Queues(k config.Keys) []Queue {
	return []Queue{
		{Name: "alerter", Key: k.AlerterDLQ, Target: k.IngestQueue},
		{Name: "moog", Key: k.MoogDLQ, Target: k.AlertQueue},
		{Name: "dead", Key: k.DeadDLQ},
	}
}

// Resolve maps a short name (alerter, moog, dead) or a full key to its queue.
func Resolve(k config.Keys, arg string) (Queue, error) {
	for _, q := range Queues(k) {
		if arg == q.Name || arg == q.Key {
			return q, nil
		}
	}
	return Queue{}, fmt.Errorf("unknown queue %q: use alerter, moog or dead (or the keys %s, %s, %s)",
		arg, k.AlerterDLQ, k.MoogDLQ, k.DeadDLQ)
}

// DeadTarget decides where an entry of the dead queue goes back to: the
// work queue it failed from, which is its source, or, when it reached the
// dead queue through another DLQ, its origin, or failing that the queue
// that DLQ replays to. ok is false when the entry names no queue MUTT knows.
func DeadTarget(k config.Keys, e queue.Entry) (target string, ok bool) {
	src := e.Fields["source"]
	switch src {
	case k.IngestQueue, k.AlertQueue:
		return src, true
	case k.AlerterDLQ, k.MoogDLQ, k.DeadDLQ:
		if o := e.Fields["origin"]; o == k.IngestQueue || o == k.AlertQueue {
			return o, true
		}
		switch src {
		case k.AlerterDLQ:
			return k.IngestQueue, true
		case k.MoogDLQ:
			return k.AlertQueue, true
		}
	}
	return "", false
}
