package dlqadmin

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/queue"
)

// Plan is where the selected entries of a replay go.
type Plan struct {
	ByTarget   map[string][]string // target key → entry IDs, oldest first
	Reasons    map[string]int      // reason → entries to replay
	Unknown    []string            // dead-queue entries with no known source
	AtLimit    []string            // dead-queue entries already replayed MaxReplays times
	ToDead     int                 // entries the replay will send to the dead queue
	MaxReplays int
}

// PlanReplay decides the target of every entry of q. Entries of the dead
// queue whose source is unknown, or which are at the replay limit, are
// left out: sending them to the dead queue again would only lose where
// they came from.
func PlanReplay(k config.Keys, q Queue, entries []queue.Entry, maxReplays int) Plan {
	p := Plan{ByTarget: map[string][]string{}, Reasons: map[string]int{}, MaxReplays: maxReplays}
	for _, e := range entries {
		replays, _ := strconv.Atoi(e.Fields[queue.ReplaysField])
		target := q.Target
		if target == "" {
			t, ok := DeadTarget(k, e)
			if !ok {
				p.Unknown = append(p.Unknown, e.ID)
				continue
			}
			if replays >= maxReplays {
				p.AtLimit = append(p.AtLimit, e.ID)
				continue
			}
			target = t
		} else if replays >= maxReplays {
			p.ToDead++
		}
		p.ByTarget[target] = append(p.ByTarget[target], e.ID)
		p.Reasons[e.Fields["reason"]]++
	}
	return p
}

// Count is how many entries the plan replays.
func (p Plan) Count() int {
	n := 0
	for _, ids := range p.ByTarget {
		n += len(ids)
	}
	return n
}

// Targets are the target keys, sorted.
func (p Plan) Targets() []string {
	keys := make([]string, 0, len(p.ByTarget))
	for k := range p.ByTarget {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TargetKeys is the audit log's target: one key, or several comma-separated.
func (p Plan) TargetKeys() string { return strings.Join(p.Targets(), ",") }

// TargetList names the targets for a question: "k" or "k1 (7), k2 (5)".
func (p Plan) TargetList() string {
	t := p.Targets()
	if len(t) == 1 {
		return t[0]
	}
	parts := make([]string, len(t))
	for i, k := range t {
		parts[i] = fmt.Sprintf("%s (%d)", k, len(p.ByTarget[k]))
	}
	return strings.Join(parts, ", ")
}

// IDs are the IDs to replay, oldest first.
func (p Plan) IDs() []string {
	var out []string
	for _, ids := range p.ByTarget {
		out = append(out, ids...)
	}
	sort.Slice(out, func(i, j int) bool { return IDLess(out[i], out[j]) })
	return out
}

// Outcome is what a replay did.
type Outcome struct {
	queue.ReplayResult
	ByTarget map[string]int // target key → entries replayed to it
}

// ReplayOn carries p out on b: the entries of q go to their targets, those
// over the limit to the dead queue. It stops at the first failing target
// and returns what was done until then with the error.
func ReplayOn(ctx context.Context, b Backend, k config.Keys, q Queue, p Plan) (Outcome, error) {
	out := Outcome{ByTarget: map[string]int{}}
	for _, target := range p.Targets() {
		res, err := b.Replay(ctx, q.Key, target, k.DeadDLQ, p.MaxReplays, p.ByTarget[target])
		out.Replayed += res.Replayed
		out.Dead += res.Dead
		out.Missing += res.Missing
		out.ByTarget[target] += res.Replayed
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
