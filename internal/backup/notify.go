package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Notifier posts a Slack-compatible JSON message ({"text": …}) about a
// backup set to a webhook. The webhook URL usually embeds a token, so it is
// never part of an error or a message.
type Notifier struct {
	// URL is the webhook (MUTT_BACKUP_NOTIFY_URL).
	URL string
	// Client sends the requests; nil means a client with a 5 s timeout.
	Client *http.Client
	// Attempts is how many times a message is tried; 0 means 3.
	Attempts int
	// Backoff is the wait before the second attempt, doubled for each
	// further one; 0 means 1 s.
	Backoff time.Duration
	// Redact lists secret values (passwords, tokens) that must never leave
	// in a message; any occurrence is replaced before sending.
	Redact []string
}

// NotifyError is a failed notification; Retryable says whether a later
// attempt could succeed.
type NotifyError struct {
	Retryable bool
	Err       error
}

func (e *NotifyError) Error() string { return e.Err.Error() }
func (e *NotifyError) Unwrap() error { return e.Err }

// ShouldNotify reports whether a set deserves a message: always when a
// component failed or its verification did, on success only when onSuccess.
func ShouldNotify(m *Manifest, onSuccess bool) bool {
	return len(FailedComponents(m)) > 0 || onSuccess
}

// FailedComponents returns "name: reason" for every component of m that
// failed or whose verification failed.
func FailedComponents(m *Manifest) []string {
	var out []string
	for _, c := range m.Components {
		switch {
		case c.Status == StatusFailed:
			out = append(out, c.Name+": "+c.Reason)
		case c.Verify != nil && c.Verify.Status == StatusFailed:
			out = append(out, c.Name+": verification failed: "+c.Verify.Detail)
		}
	}
	return out
}

// NotifyText is the message about m: the set id, host, status and, for a
// failure, every failed component with its reason.
func NotifyText(m *Manifest) string {
	failed := FailedComponents(m)
	var b strings.Builder
	if len(failed) > 0 {
		fmt.Fprintf(&b, ":rotating_light: MUTT backup FAILED on %s: set %s (profile %s, status %s)", m.Host, m.SetID, m.Profile, m.Status)
		for _, f := range failed {
			b.WriteString("\n• ")
			b.WriteString(f)
		}
		b.WriteString("\nRun `mutt backup show " + m.SetID + "` for details.")
		return b.String()
	}
	var names []string
	for _, c := range m.Components {
		if c.Status == StatusOK {
			names = append(names, c.Name)
		}
	}
	fmt.Fprintf(&b, "MUTT backup ok on %s: set %s (profile %s, status %s; ok: %s)", m.Host, m.SetID, m.Profile, m.Status, strings.Join(names, ", "))
	return b.String()
}

// Send posts text to the webhook, retrying network errors, 429 and 5xx
// answers with a doubling backoff, until the attempts are used or ctx ends.
func (n *Notifier) Send(ctx context.Context, text string) error {
	if n.URL == "" {
		return errors.New("sending backup notification: no webhook URL configured")
	}
	u, err := url.Parse(n.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("sending backup notification: MUTT_BACKUP_NOTIFY_URL is not an http(s) URL")
	}
	for _, s := range n.Redact {
		if s != "" {
			text = strings.ReplaceAll(text, s, "[redacted]")
		}
	}
	body, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return fmt.Errorf("sending backup notification: %w", err)
	}
	client := n.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	attempts := n.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	wait := n.Backoff
	if wait <= 0 {
		wait = time.Second
	}
	for i := 1; ; i++ {
		err = n.post(ctx, client, body)
		var ne *NotifyError
		if err == nil || i >= attempts || !errors.As(err, &ne) || !ne.Retryable {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sending backup notification to %s: %w", u.Host, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
	if err != nil {
		return fmt.Errorf("sending backup notification to %s: %w", u.Host, err)
	}
	return nil
}

// post makes one attempt. Errors never carry the URL: url.Error's text
// holds it, so only the inner cause is kept.
func (n *Notifier) post(ctx context.Context, client *http.Client, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(body))
	if err != nil {
		return &NotifyError{Err: errors.New("building request")}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &NotifyError{Retryable: true, Err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	retry := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	return &NotifyError{Retryable: retry, Err: fmt.Errorf("webhook answered %s", resp.Status)}
}
