package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Stream entry fields. Metadata about a message's journey lives beside the
// payload, never inside it.
const (
	PayloadField  = "e"        // the message itself
	AttemptsField = "attempts" // delivery attempts already spent (forwarder)
	ReplaysField  = "replays"  // times replayed from a dead-letter queue
)

// Message is one entry read from a stream by a consumer group.
type Message struct {
	ID      string
	Payload []byte
	// Deliveries counts how many times the group has handed this message to
	// a consumer, this time included.
	Deliveries int64
	// Attempts and Replays are the entry's metadata fields (0 when absent).
	Attempts, Replays int64
}

// message builds a Message from a stream entry.
func message(id string, values map[string]any, deliveries int64) Message {
	return Message{
		ID: id, Payload: payload(values), Deliveries: deliveries,
		Attempts: intField(values, AttemptsField), Replays: intField(values, ReplaysField),
	}
}

func intField(values map[string]any, name string) int64 {
	v, ok := values[name].(string)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Stream is one Redis stream consumed by one consumer group. It is safe
// for concurrent use.
type Stream struct {
	rdb   redis.UniversalClient
	key   string
	group string
}

// NewStream returns the stream key consumed by group.
func NewStream(rdb redis.UniversalClient, key, group string) *Stream {
	return &Stream{rdb: rdb, key: key, group: group}
}

// Key returns the stream's Redis key.
func (s *Stream) Key() string { return s.key }

// Group returns the consumer group's name.
func (s *Stream) Group() string { return s.group }

// EnsureGroup creates the consumer group (and the stream) when missing. A
// new group starts at the beginning of the stream, so nothing written before
// the first consumer started is skipped.
func (s *Stream) EnsureGroup(ctx context.Context) error {
	err := s.rdb.XGroupCreateMkStream(ctx, s.key, s.group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("creating consumer group %s on %s: %w", s.group, s.key, err)
	}
	return nil
}

// Len returns the number of entries in the stream: messages waiting plus
// messages delivered but not yet acknowledged.
func (s *Stream) Len(ctx context.Context) (int64, error) {
	n, err := s.rdb.XLen(ctx, s.key).Result()
	if err != nil {
		return 0, fmt.Errorf("measuring %s: %w", s.key, err)
	}
	return n, nil
}

// Read returns up to count new messages for consumer, waiting up to block
// for the first one (a negative block does not wait; zero would wait
// forever). It returns no messages and no error when none arrived.
func (s *Stream) Read(ctx context.Context, consumer string, count int, block time.Duration) ([]Message, error) {
	if block > 0 && block < time.Millisecond {
		// BLOCK is in whole milliseconds; a shorter wait would become
		// BLOCK 0, which waits forever.
		block = time.Millisecond
	}
	res, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group:    s.group,
		Consumer: consumer,
		Streams:  []string{s.key, ">"},
		Count:    int64(count),
		Block:    block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		if isNoGroup(err) {
			// The stream was deleted (for example by a restore); recreate
			// the group so consumers carry on.
			if gerr := s.EnsureGroup(ctx); gerr != nil {
				return nil, gerr
			}
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s: %w", s.key, err)
	}
	var out []Message
	for _, st := range res {
		if out == nil {
			out = make([]Message, 0, len(st.Messages))
		}
		for _, m := range st.Messages {
			out = append(out, message(m.ID, m.Values, 1))
		}
	}
	return out, nil
}

func isNoGroup(err error) bool { return strings.HasPrefix(err.Error(), "NOGROUP") }

// payload extracts the payload field; an entry written by another tool
// without it yields nil, which the consumer treats as a poison message.
func payload(values map[string]any) []byte {
	switch v := values[PayloadField].(type) {
	case string:
		return []byte(v)
	case []byte:
		return v
	}
	return nil
}

// Reclaim takes over messages that another consumer (typically a crashed
// one) has held unacknowledged for at least minIdle, up to count of them,
// and returns them with their delivery counts. Entries deleted from the
// stream while pending are dropped from the pending list by Redis.
func (s *Stream) Reclaim(ctx context.Context, consumer string, minIdle time.Duration, count int) ([]Message, error) {
	// XAUTOCLAIM examines at most ten times COUNT pending entries per call;
	// follow its cursor so idle entries behind many fresh ones are found,
	// within a bound on the work one call may do.
	var msgs []redis.XMessage
	cursor := "0-0"
	for range 100 {
		batch, next, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream:   s.key,
			Group:    s.group,
			Consumer: consumer,
			MinIdle:  minIdle,
			Start:    cursor,
			Count:    int64(count - len(msgs)),
		}).Result()
		if err != nil {
			if isNoGroup(err) {
				return nil, s.EnsureGroup(ctx)
			}
			return nil, fmt.Errorf("reclaiming from %s: %w", s.key, err)
		}
		msgs = append(msgs, batch...)
		cursor = next
		if cursor == "0-0" || len(msgs) >= count {
			break
		}
	}
	return s.withDeliveries(ctx, consumer, msgs)
}

// withDeliveries turns entries consumer holds into Messages with their
// delivery counts, which neither XAUTOCLAIM nor a history read reports.
func (s *Stream) withDeliveries(ctx context.Context, consumer string, msgs []redis.XMessage) ([]Message, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	pending, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: s.key,
		Group:  s.group,
		Start:  msgs[0].ID,
		End:    msgs[len(msgs)-1].ID,
		// The range may also hold this consumer's older entries.
		Count:    int64(max(2*len(msgs), 1000)),
		Consumer: consumer,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("reading delivery counts on %s: %w", s.key, err)
	}
	counts := make(map[string]int64, len(pending))
	for _, p := range pending {
		counts[p.ID] = p.RetryCount
	}
	out := make([]Message, 0, len(msgs))
	for _, m := range msgs {
		d := counts[m.ID]
		if d == 0 {
			d = 1
		}
		out = append(out, message(m.ID, m.Values, d))
	}
	return out, nil
}

// ReadOwnPending returns up to count of the messages consumer already
// holds — delivered to a process of the same consumer name that stopped
// before acknowledging them — with ids after the id after ("0" for the
// first call; then the last id returned). It never waits. Entries deleted
// from the stream while pending are acknowledged and skipped. A restarted
// consumer calls it before reading new messages, so its own work in flight
// is finished at once instead of after the reclaim idle time.
func (s *Stream) ReadOwnPending(ctx context.Context, consumer, after string, count int) ([]Message, string, error) {
	res, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: s.group, Consumer: consumer, Streams: []string{s.key, after}, Count: int64(count), Block: -1,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, after, nil
	}
	if err != nil {
		if isNoGroup(err) {
			return nil, after, s.EnsureGroup(ctx)
		}
		return nil, after, fmt.Errorf("reading pending messages of %s on %s: %w", consumer, s.key, err)
	}
	var live []redis.XMessage
	var gone []string
	for _, st := range res {
		for _, m := range st.Messages {
			after = m.ID
			if m.Values == nil {
				gone = append(gone, m.ID)
				continue
			}
			live = append(live, m)
		}
	}
	if len(gone) > 0 {
		if err := s.rdb.XAck(ctx, s.key, s.group, gone...).Err(); err != nil {
			return nil, after, fmt.Errorf("acknowledging %d deleted entries on %s: %w", len(gone), s.key, err)
		}
	}
	msgs, err := s.withDeliveries(ctx, consumer, live)
	return msgs, after, err
}

// Touch resets the idle time of messages this consumer holds, so that a
// consumer still working on them (waiting on a rate limit, say) is not
// taken for dead and robbed by Reclaim. Delivery counts do not change.
func (s *Stream) Touch(ctx context.Context, consumer string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
		Stream: s.key, Group: s.group, Consumer: consumer, MinIdle: 0, Messages: ids,
	}).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("touching %d messages on %s: %w", len(ids), s.key, err)
	}
	return nil
}

// Ack acknowledges and deletes messages: they are done.
func (s *Stream) Ack(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, s.key, s.group, ids...)
		p.XDel(ctx, s.key, ids...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("acknowledging %d messages on %s: %w", len(ids), s.key, err)
	}
	return nil
}

// PendingCount returns how many messages are delivered but unacknowledged.
func (s *Stream) PendingCount(ctx context.Context) (int64, error) {
	p, err := s.rdb.XPending(ctx, s.key, s.group).Result()
	if err != nil {
		if isNoGroup(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("reading pending count of %s: %w", s.key, err)
	}
	return p.Count, nil
}

// DeadLetter is what a dead-letter queue entry records besides the payload.
type DeadLetter struct {
	Payload    []byte
	Reason     string // short, fixed vocabulary: invalid_event, max_retries, audit_rejected, shed, …
	Error      string // the detail
	Source     string // stream the message came from
	SourceID   string // its ID there
	Deliveries int64
	Attempts   int64 // delivery attempts spent, where the consumer counts them
	Replays    int64 // times the message was already replayed from a DLQ
	Status     int   // last HTTP status, where there was one
}

// Fields returns the entry as stream field/value pairs, for XADD.
func (d DeadLetter) Fields(failedAt time.Time) []any {
	f := []any{
		PayloadField, d.Payload,
		"reason", d.Reason,
		"error", d.Error,
		"source", d.Source,
		"source_id", d.SourceID,
		"deliveries", strconv.FormatInt(d.Deliveries, 10),
		"failed_at", failedAt.UTC().Format(time.RFC3339Nano),
		ReplaysField, strconv.FormatInt(d.Replays, 10),
	}
	if d.Attempts > 0 {
		f = append(f, AttemptsField, strconv.FormatInt(d.Attempts, 10))
	}
	if d.Status > 0 {
		f = append(f, "status", strconv.Itoa(d.Status))
	}
	return f
}

// PruneConsumers deletes the group's consumers that hold no pending
// messages and have been idle for at least idle: the names left behind by
// processes that stopped. It returns how many it deleted.
func (s *Stream) PruneConsumers(ctx context.Context, idle time.Duration) (int, error) {
	consumers, err := s.rdb.XInfoConsumers(ctx, s.key, s.group).Result()
	if err != nil {
		if isNoGroup(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("listing consumers of %s: %w", s.key, err)
	}
	n := 0
	for _, c := range consumers {
		if c.Pending > 0 || c.Idle < idle {
			continue
		}
		// DELCONSUMER would discard pending entries; the count was zero a
		// moment ago and only this consumer's own reads could raise it.
		if err := s.rdb.XGroupDelConsumer(ctx, s.key, s.group, c.Name).Err(); err != nil {
			return n, fmt.Errorf("deleting consumer %s of %s: %w", c.Name, s.key, err)
		}
		n++
	}
	return n, nil
}
