package queue

import "strconv"

// ParseDeadLetter reads a dead-letter stream entry written from
// DeadLetter.Fields back into its typed record; fields absent or
// malformed are left zero.
func ParseDeadLetter(values map[string]any) DeadLetter {
	str := func(name string) string {
		s, _ := values[name].(string)
		return s
	}
	status, _ := strconv.Atoi(str("status"))
	return DeadLetter{
		Payload: payload(values), Reason: str("reason"), Error: str("error"), Source: str("source"),
		SourceID: str("source_id"), Deliveries: intField(values, "deliveries"),
		Attempts: intField(values, AttemptsField), Replays: intField(values, ReplaysField), Status: status,
	}
}
