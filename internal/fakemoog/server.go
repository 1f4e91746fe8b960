package fakemoog

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the bounds in Options.
const (
	DefaultKeepBodies   = 100
	DefaultKeepTimes    = 100_000
	DefaultMaxIDs       = 1_000_000
	DefaultMaxBodyBytes = 1 << 20
)

// Options configure a Server.
type Options struct {
	// APIKey, when not empty, must arrive as "Authorization: Bearer <key>"
	// on the event paths; anything else is answered 401. It is a plain
	// string: this is a test double, and its key is a test value.
	APIKey string
	// Mode is the initial behaviour.
	Mode Mode
	// KeepBodies is how many of the latest accepted bodies are kept.
	KeepBodies int
	// KeepTimes is how many of the latest receipt times are kept.
	KeepTimes int
	// MaxIDs bounds the external IDs tracked one by one; receipts of IDs
	// beyond it are counted as untracked.
	MaxIDs int
	// MaxBodyBytes is the largest body accepted (413 above it).
	MaxBodyBytes int64
}

// Server is the fake Moogsoft webhook. It is an http.Handler, safe for
// concurrent use; memory is bounded by the Options.
type Server struct {
	opts Options

	// mode is swapped whole by SetMode; its counter drives FailFraction.
	mode atomic.Pointer[modeState]

	// byStatus counts answers by status (index = status), dropped counts
	// connections closed unanswered; both are kept outside mu so that
	// refusals never contend with recording.
	byStatus [600]atomic.Int64
	dropped  atomic.Int64

	bufs sync.Pool // *bytes.Buffer for request bodies

	mu         sync.Mutex
	count      int64
	duplicates int64
	noID       int64
	untracked  int64
	ids        map[string]*receipts
	order      []string // tracked IDs in order of first receipt
	times      []int64  // ring of receipt times, Unix nanoseconds
	timesN     int64    // receipts written into times so far
	bodies     [][]byte // ring of accepted bodies; buffers are reused
	bodiesN    int64
}

type modeState struct {
	Mode
	seq atomic.Int64
}

// receipts is what the server knows about one external ID.
type receipts struct {
	n           int
	first, last int64 // Unix nanoseconds
}

// Receipt describes the deliveries of one external ID.
type Receipt struct {
	ExternalID  string
	Count       int
	First, Last time.Time
}

// New returns a server with the given options; zero bounds take the
// defaults.
func New(opts Options) *Server {
	if opts.KeepBodies <= 0 {
		opts.KeepBodies = DefaultKeepBodies
	}
	if opts.KeepTimes <= 0 {
		opts.KeepTimes = DefaultKeepTimes
	}
	if opts.MaxIDs <= 0 {
		opts.MaxIDs = DefaultMaxIDs
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	s := &Server{
		opts:   opts,
		ids:    make(map[string]*receipts),
		times:  make([]int64, opts.KeepTimes),
		bodies: make([][]byte, opts.KeepBodies),
	}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	s.SetMode(opts.Mode)
	return s
}

// SetMode changes the behaviour for the requests that follow. Fields out of
// range are brought into range (see Mode.Validate for the rules); the
// FailFraction sequence starts afresh.
func (s *Server) SetMode(m Mode) {
	s.mode.Store(&modeState{Mode: m.normalize()})
}

// Mode returns the current behaviour.
func (s *Server) Mode() Mode { return s.mode.Load().Mode }

var (
	okBody     = []byte(`{"ok":true}` + "\n")
	healthBody = []byte(`{"status":"healthy","service":"mock-moog"}` + "\n")
)

// ServeHTTP routes POST /events and /api/v1/events (the webhook), GET
// /health, GET /stats, GET and POST /mode and POST /reset.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/events", "/api/v1/events":
		s.serveEvent(w, r)
	case "/health":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(healthBody)
	case "/stats":
		writeJSON(w, http.StatusOK, s.Stats())
	case "/mode":
		s.serveMode(w, r)
	case "/reset":
		if r.Method != http.MethodPost {
			s.answer(w, http.StatusMethodNotAllowed, 0, "use POST")
			return
		}
		s.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveMode(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.Mode())
	case http.MethodPost, http.MethodPut:
		var m Mode
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		if err := dec.Decode(&m); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": err.Error()})
			return
		}
		if err := m.Validate(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": err.Error()})
			return
		}
		s.SetMode(m)
		writeJSON(w, http.StatusOK, s.Mode())
	default:
		w.Header().Set("Allow", "GET, POST")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"ok": false, "error": "use GET or POST"})
	}
}

func (s *Server) serveEvent(w http.ResponseWriter, r *http.Request) {
	if s.opts.APIKey != "" {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.APIKey)) != 1 {
			s.answer(w, http.StatusUnauthorized, 0, "missing or wrong API key")
			return
		}
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer s.bufs.Put(buf)
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, s.opts.MaxBodyBytes+1)); err != nil {
		s.answer(w, http.StatusBadRequest, 0, "reading body: "+err.Error())
		return
	}
	if int64(buf.Len()) > s.opts.MaxBodyBytes {
		s.answer(w, http.StatusRequestEntityTooLarge, 0, "body too large")
		return
	}

	st := s.mode.Load()
	m := st.Mode
	if m.Delay > 0 {
		t := time.NewTimer(m.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if m.Drop {
		s.drop(w)
		return
	}
	status := http.StatusOK
	switch {
	case m.Status >= 300:
		s.answer(w, m.Status, m.retryAfterSeconds(), "mode: fixed status")
		return
	case m.Status != 0:
		status = m.Status
	}
	if m.FailFraction > 0 {
		// Request n fails when n × f crosses an integer: exactly
		// floor(n × f) of the first n fail, evenly spread.
		n := float64(st.seq.Add(1))
		if int64(n*m.FailFraction) > int64((n-1)*m.FailFraction) {
			s.answer(w, m.FailStatus, m.retryAfterSeconds(), "mode: injected failure")
			return
		}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.answer(w, http.StatusMethodNotAllowed, 0, "use POST")
		return
	}
	s.record(buf.Bytes())
	s.byStatus[status].Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(okBody)
}

// drop closes the client's connection without an answer.
func (s *Server) drop(w http.ResponseWriter) {
	s.dropped.Add(1)
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 cannot hand over its connection; aborting the handler
		// resets the stream, which the client sees as a transport error.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// answer writes a refusal, counted by status.
func (s *Server) answer(w http.ResponseWriter, status int, retryAfter int64, msg string) {
	s.byStatus[status].Add(1)
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(retryAfter, 10))
	}
	writeJSON(w, status, map[string]any{"ok": false, "error": msg})
}

// record notes one accepted event.
func (s *Server) record(body []byte) {
	id, hasID := externalID(body)
	now := time.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	switch {
	case !hasID:
		s.noID++
	default:
		if rec := s.ids[string(id)]; rec != nil {
			rec.n++
			rec.last = now
			s.duplicates++
		} else if len(s.ids) < s.opts.MaxIDs {
			key := string(id)
			s.ids[key] = &receipts{n: 1, first: now, last: now}
			s.order = append(s.order, key)
		} else {
			s.untracked++
		}
	}
	s.times[s.timesN%int64(len(s.times))] = now
	s.timesN++
	i := s.bodiesN % int64(len(s.bodies))
	s.bodies[i] = append(s.bodies[i][:0], body...)
	s.bodiesN++
}

// Count returns how many events were accepted.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.count)
}

// Distinct returns how many different external IDs were accepted.
func (s *Server) Distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

// Duplicates returns how many accepted events repeated an external ID
// already received.
func (s *Server) Duplicates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.duplicates)
}

// Received returns how many times externalID was accepted.
func (s *Server) Received(externalID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.ids[externalID]; rec != nil {
		return rec.n
	}
	return 0
}

// Receipt returns what is known about externalID; ok is false when it was
// never received.
func (s *Server) Receipt(externalID string) (r Receipt, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.ids[externalID]
	if rec == nil {
		return Receipt{}, false
	}
	return Receipt{ExternalID: externalID, Count: rec.n, First: time.Unix(0, rec.first), Last: time.Unix(0, rec.last)}, true
}

// IDs returns the external IDs received, in order of first receipt.
func (s *Server) IDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

// Times returns the receipt times of the latest accepted events (at most
// Options.KeepTimes), oldest first.
func (s *Server) Times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(s.timesN, int64(len(s.times)))
	out := make([]time.Time, 0, n)
	for i := s.timesN - n; i < s.timesN; i++ {
		out = append(out, time.Unix(0, s.times[i%int64(len(s.times))]))
	}
	return out
}

// Bodies returns the latest accepted bodies (at most Options.KeepBodies),
// oldest first.
func (s *Server) Bodies() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(s.bodiesN, int64(len(s.bodies)))
	out := make([][]byte, 0, n)
	for i := s.bodiesN - n; i < s.bodiesN; i++ {
		out = append(out, slices.Clone(s.bodies[i%int64(len(s.bodies))]))
	}
	return out
}

// Last returns the latest accepted bodies that are JSON objects, decoded,
// oldest first.
func (s *Server) Last() []map[string]any {
	var out []map[string]any
	for _, b := range s.Bodies() {
		var m map[string]any
		if json.Unmarshal(b, &m) == nil && m != nil {
			out = append(out, m)
		}
	}
	return out
}

// Reset forgets everything received and every status counted. The mode
// stays.
func (s *Server) Reset() {
	s.mu.Lock()
	s.count, s.duplicates, s.noID, s.untracked = 0, 0, 0, 0
	s.ids = make(map[string]*receipts)
	s.order = nil
	s.timesN, s.bodiesN = 0, 0
	for i := range s.bodies {
		s.bodies[i] = nil
	}
	s.mu.Unlock()
	for i := range s.byStatus {
		s.byStatus[i].Store(0)
	}
	s.dropped.Store(0)
}

// Stats is the summary served on GET /stats.
type Stats struct {
	Count      int64 `json:"count"`
	Distinct   int64 `json:"distinct"`
	Duplicates int64 `json:"duplicates"`
	// NoID counts accepted bodies without a usable external_id; Untracked
	// those whose ID arrived after MaxIDs were tracked.
	NoID      int64 `json:"no_id"`
	Untracked int64 `json:"untracked"`
	// Dropped counts connections closed without an answer.
	Dropped int64 `json:"dropped"`
	// Last is the latest accepted body (as a JSON string when it is not
	// valid JSON), null before the first.
	Last     json.RawMessage  `json:"last"`
	ByStatus map[string]int64 `json:"by_status"`
	Mode     Mode             `json:"mode"`
}

// Stats returns the current summary.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := Stats{
		Count: s.count, Distinct: int64(len(s.ids)), Duplicates: s.duplicates,
		NoID: s.noID, Untracked: s.untracked,
	}
	var last []byte
	if s.bodiesN > 0 {
		last = slices.Clone(s.bodies[(s.bodiesN-1)%int64(len(s.bodies))])
	}
	s.mu.Unlock()
	st.Dropped = s.dropped.Load()
	st.Mode = s.Mode()
	switch {
	case last == nil:
		st.Last = json.RawMessage("null")
	case json.Valid(last):
		st.Last = last
	default:
		st.Last, _ = json.Marshal(string(last))
	}
	st.ByStatus = make(map[string]int64)
	for code := range s.byStatus {
		if n := s.byStatus[code].Load(); n > 0 {
			st.ByStatus[strconv.Itoa(code)] = n
		}
	}
	return st
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
