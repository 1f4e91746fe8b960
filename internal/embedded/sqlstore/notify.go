package sqlstore

import "sync"

// notifier is a broadcast without payload: every waiter on the channel of
// the moment is woken by the next signal.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed by the next signal.
func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

// signal wakes every current waiter.
func (n *notifier) signal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// Appended returns a channel closed when entries are next committed to any
// queue of this database, so that a consumer can wait for work without
// polling. Take the channel before reading: an append between the read and
// the wait then still wakes it.
func (d *DB) Appended() <-chan struct{} { return d.appended.wait() }
