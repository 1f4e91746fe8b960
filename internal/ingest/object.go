package ingest

import (
	"strconv"

	"github.com/mutt-go/mutt/internal/event"
)

// Object builds one event as a JSON object, for receivers that make events
// out of other formats. Keys are written as given (they must be plain JSON
// key text); empty string values are left out. Its zero value is ready to
// use and Reset reuses the memory.
type Object struct {
	b []byte
}

// Reset empties the object for reuse.
func (o *Object) Reset() { o.b = o.b[:0] }

func (o *Object) key(k string) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

// String adds a string member unless v is empty. Bytes that are not UTF-8
// are kept as the text \xNN, so nothing a device sent is lost.
func (o *Object) String(k, v string) {
	if v == "" {
		return
	}
	o.key(k)
	o.b = event.AppendText(o.b, v)
}

// Bytes is String for a byte slice.
func (o *Object) Bytes(k string, v []byte) {
	if len(v) == 0 {
		return
	}
	o.key(k)
	o.b = event.AppendText(o.b, v)
}

// Int adds an integer member.
func (o *Object) Int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

// Raw adds a member whose value is already JSON.
func (o *Object) Raw(k string, v []byte) {
	o.key(k)
	o.b = append(o.b, v...)
}

// JSON closes the object and returns its bytes, valid until the next Reset.
func (o *Object) JSON() []byte {
	if len(o.b) == 0 {
		return append(o.b, '{', '}')
	}
	o.b = append(o.b, '}')
	return o.b
}
