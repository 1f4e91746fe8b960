package syslog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// ErrFrameTooLarge is returned by Framer.Next for a frame longer than the
// limit; the frame has been skipped and the next call reads the one after.
var ErrFrameTooLarge = errors.New("syslog frame exceeds the size limit")

// maxCountDigits bounds the MSG-LEN of an octet-counted frame (RFC 6587
// section 3.4.1): nine digits cover any size a limit can allow.
const maxCountDigits = 9

// Framer splits a syslog stream into messages per RFC 6587, telling the
// two framings apart frame by frame: a frame that starts with a length,
// a space and '<' is octet-counted; anything else ends at LF (a trailing
// CR is dropped, as is an empty frame). It is not safe for concurrent use.
type Framer struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewFramer reads frames of at most max bytes from r.
func NewFramer(r io.Reader, max int) *Framer {
	return &Framer{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next frame, valid until the following call. Errors:
// ErrFrameTooLarge (skipped; keep reading), io.EOF at a clean end, or the
// read error; a stream that ends inside a frame returns the partial frame
// first when it is LF-framed, io.ErrUnexpectedEOF when octet-counted.
func (f *Framer) Next() ([]byte, error) {
	for {
		if n, ok := f.count(); ok {
			return f.counted(n)
		}
		line, err := f.line()
		if err != nil {
			return nil, err
		}
		if len(line) > 0 {
			return line, nil
		}
	}
}

// count peeks for "MSG-LEN SP <" and consumes the length and the space.
func (f *Framer) count() (int, bool) {
	head, _ := f.r.Peek(maxCountDigits + 2)
	n, i := 0, 0
	for ; i < len(head) && i < maxCountDigits && isDigit(head[i]); i++ {
		n = n*10 + int(head[i]-'0')
	}
	if i == 0 || head[0] == '0' || i+1 >= len(head) || head[i] != ' ' || head[i+1] != '<' {
		return 0, false
	}
	_, _ = f.r.Discard(i + 1)
	return n, true
}

func (f *Framer) counted(n int) ([]byte, error) {
	if n > f.max {
		if _, err := f.r.Discard(n); err != nil {
			return nil, fmt.Errorf("skipping an oversized frame: %w", unexpected(err))
		}
		return nil, ErrFrameTooLarge
	}
	if cap(f.buf) < n {
		f.buf = make([]byte, n, max(n, 4096))
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		return nil, unexpected(err)
	}
	return f.buf, nil
}

// line reads up to LF. A line longer than the limit is skipped up to its
// LF and reported as ErrFrameTooLarge.
func (f *Framer) line() ([]byte, error) {
	f.buf = f.buf[:0]
	tooLarge := false
	for {
		chunk, err := f.r.ReadSlice('\n')
		if !tooLarge {
			if len(f.buf)+len(chunk) > f.max+2 { // +2: the CR LF are not the message
				tooLarge, f.buf = true, f.buf[:0]
			} else {
				f.buf = append(f.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			if tooLarge {
				return nil, ErrFrameTooLarge
			}
			b := f.buf[:len(f.buf)-1]
			if len(b) > 0 && b[len(b)-1] == '\r' {
				b = b[:len(b)-1]
			}
			return b, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(f.buf) > 0 && !tooLarge:
			return f.buf, nil // the last frame may lack its LF
		default:
			if tooLarge && errors.Is(err, io.EOF) {
				return nil, ErrFrameTooLarge
			}
			return nil, err
		}
	}
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
