package backup

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"strconv"
)

// rdbCRCTable is CRC-64/Jones (reflected polynomial 0x95AC9329AC4BC9B5),
// the checksum Redis appends to an RDB file.
var rdbCRCTable = crc64.MakeTable(0x95AC9329AC4BC9B5)

// rdbCRC continues Redis's CRC-64 (init 0, no final xor) over p. Go's
// crc64.Update inverts before and after, which the inversions here undo.
func rdbCRC(crc uint64, p []byte) uint64 {
	return ^crc64.Update(^crc, rdbCRCTable, p)
}

// rdbHeadLimit is how much of the file start is kept to read the header
// (auxiliary fields and the first database's sizes).
const rdbHeadLimit = 64 << 10

// RDB opcodes read from the header.
const (
	rdbOpAux      = 0xFA
	rdbOpResizeDB = 0xFB
	rdbOpSelectDB = 0xFE
	rdbOpEOF      = 0xFF
)

// ErrRDBInvalid reports an RDB file that is truncated, not an RDB file or
// whose checksum does not match.
var ErrRDBInvalid = errors.New("invalid RDB file")

// RDBInfo describes an RDB file checked by RDBChecker.
type RDBInfo struct {
	// Version is the RDB format version of the header ("REDIS0011" → 11).
	Version int
	// Bytes is the file size.
	Bytes int64
	// Checksum is the trailing CRC-64; 0 means the server saved without
	// one (rdbchecksum no).
	Checksum uint64
	// RedisVersion is the redis-ver auxiliary field, when present.
	RedisVersion string
	// DB, Keys and Expires are the first non-empty database and its key
	// and volatile-key counts at save time; Keys is -1 when the header
	// does not say.
	DB            int
	Keys, Expires int64
}

// RDBChecker is an io.Writer that checks an RDB stream as it passes: the
// "REDIS" magic with a 4-digit version, the EOF opcode and the trailing
// CRC-64 over everything before it. Finish reports the result.
type RDBChecker struct {
	crc  uint64
	n    int64
	head []byte
	// tail holds the last 8 bytes seen, which are the checksum if the
	// stream ends here and are only added to crc once more bytes follow.
	tail  [8]byte
	ntail int
	last  byte // the byte before tail
}

// NewRDBChecker returns a checker for one RDB stream.
func NewRDBChecker() *RDBChecker { return &RDBChecker{} }

// Write feeds p into the checks; it never fails.
func (c *RDBChecker) Write(p []byte) (int, error) {
	if room := rdbHeadLimit - len(c.head); room > 0 {
		c.head = append(c.head, p[:min(room, len(p))]...)
	}
	c.n += int64(len(p))
	all := len(p)
	// Bytes leaving the 8-byte tail window are part of the checksummed body.
	if c.ntail+len(p) <= 8 {
		copy(c.tail[c.ntail:], p)
		c.ntail += len(p)
		return all, nil
	}
	out := c.ntail + len(p) - 8 // bytes to push out of the window
	fromTail := min(out, c.ntail)
	if fromTail > 0 {
		c.crc = rdbCRC(c.crc, c.tail[:fromTail])
		c.last = c.tail[fromTail-1]
		copy(c.tail[:], c.tail[fromTail:c.ntail])
		c.ntail -= fromTail
	}
	if fromP := out - fromTail; fromP > 0 {
		c.crc = rdbCRC(c.crc, p[:fromP])
		c.last = p[fromP-1]
		p = p[fromP:]
	}
	copy(c.tail[c.ntail:], p)
	c.ntail += len(p)
	return all, nil
}

// Finish checks the complete stream and describes it.
func (c *RDBChecker) Finish() (RDBInfo, error) {
	info := RDBInfo{Bytes: c.n, Keys: -1}
	if len(c.head) < 9 || !bytes.Equal(c.head[:5], []byte("REDIS")) {
		return info, fmt.Errorf("%w: no REDIS magic at the start", ErrRDBInvalid)
	}
	v, err := strconv.Atoi(string(c.head[5:9]))
	if err != nil || v <= 0 {
		return info, fmt.Errorf("%w: version %q is not 4 digits", ErrRDBInvalid, c.head[5:9])
	}
	info.Version = v
	if v < 5 {
		// Versions before 5 carry no checksum; Redis has not written them
		// since 2.6.
		return info, fmt.Errorf("%w: RDB version %d predates checksums", ErrRDBInvalid, v)
	}
	if c.n < 9+1+8 || c.ntail != 8 {
		return info, fmt.Errorf("%w: truncated (%d bytes)", ErrRDBInvalid, c.n)
	}
	if c.last != rdbOpEOF {
		return info, fmt.Errorf("%w: no EOF opcode before the checksum (truncated?)", ErrRDBInvalid)
	}
	info.Checksum = binary.LittleEndian.Uint64(c.tail[:])
	if info.Checksum != 0 && info.Checksum != c.crc {
		return info, fmt.Errorf("%w: CRC-64 %016x, file says %016x", ErrRDBInvalid, c.crc, info.Checksum)
	}
	parseRDBHeader(c.head[9:], &info)
	return info, nil
}

// parseRDBHeader reads auxiliary fields and the first SELECTDB/RESIZEDB
// pair from the start of the body; it stops quietly at anything else.
func parseRDBHeader(b []byte, info *RDBInfo) {
	r := &rdbReader{b: b}
	for {
		op, ok := r.byte()
		if !ok {
			return
		}
		switch op {
		case rdbOpAux:
			k, ok1 := r.str()
			v, ok2 := r.str()
			if !ok1 || !ok2 {
				return
			}
			if k == "redis-ver" {
				info.RedisVersion = v
			}
		case rdbOpSelectDB:
			db, _, ok := r.length()
			if !ok {
				return
			}
			info.DB = int(db)
			if op, ok := r.byte(); !ok || op != rdbOpResizeDB {
				return
			}
			keys, _, ok1 := r.length()
			exp, _, ok2 := r.length()
			if ok1 && ok2 {
				info.Keys, info.Expires = int64(keys), int64(exp)
			}
			return
		default:
			return
		}
	}
}

// rdbReader decodes RDB length and string encodings from a byte slice.
type rdbReader struct {
	b []byte
	i int
}

func (r *rdbReader) byte() (byte, bool) {
	if r.i >= len(r.b) {
		return 0, false
	}
	r.i++
	return r.b[r.i-1], true
}

func (r *rdbReader) take(n int) ([]byte, bool) {
	if n < 0 || r.i+n > len(r.b) {
		return nil, false
	}
	r.i += n
	return r.b[r.i-n : r.i], true
}

// length decodes a length; encoded reports the special (integer or LZF)
// string encodings, whose kind is then the returned value.
func (r *rdbReader) length() (n uint64, encoded, ok bool) {
	b, ok := r.byte()
	if !ok {
		return 0, false, false
	}
	switch b >> 6 {
	case 0:
		return uint64(b & 0x3F), false, true
	case 1:
		b2, ok := r.byte()
		return uint64(b&0x3F)<<8 | uint64(b2), false, ok
	case 2:
		switch b {
		case 0x80:
			p, ok := r.take(4)
			if !ok {
				return 0, false, false
			}
			return uint64(binary.BigEndian.Uint32(p)), false, true
		case 0x81:
			p, ok := r.take(8)
			if !ok {
				return 0, false, false
			}
			return binary.BigEndian.Uint64(p), false, true
		}
		return 0, false, false
	}
	return uint64(b & 0x3F), true, true
}

// str decodes a string; LZF-compressed values are skipped and returned
// empty (header fields are short and never compressed in practice).
func (r *rdbReader) str() (string, bool) {
	n, encoded, ok := r.length()
	if !ok {
		return "", false
	}
	if !encoded {
		if n > uint64(len(r.b)) {
			return "", false
		}
		p, ok := r.take(int(n))
		return string(p), ok
	}
	switch n {
	case 0:
		p, ok := r.take(1)
		if !ok {
			return "", false
		}
		return strconv.Itoa(int(int8(p[0]))), true
	case 1:
		p, ok := r.take(2)
		if !ok {
			return "", false
		}
		return strconv.Itoa(int(int16(binary.LittleEndian.Uint16(p)))), true
	case 2:
		p, ok := r.take(4)
		if !ok {
			return "", false
		}
		return strconv.Itoa(int(int32(binary.LittleEndian.Uint32(p)))), true
	case 3:
		clen, _, ok1 := r.length()
		_, _, ok2 := r.length()
		if !ok1 || !ok2 || clen > uint64(len(r.b)) {
			return "", false
		}
		_, ok := r.take(int(clen))
		return "", ok
	}
	return "", false
}
