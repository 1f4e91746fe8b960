package snmptrap

import "errors"

// header is what the receiver needs to know of a message before gosnmp
// decodes it: the version and, for v3, the USM fields that choose the
// credentials.
type header struct {
	version  int // 0 = v1, 1 = v2c, 3 = v3
	msgFlags byte
	engineID []byte
	user     []byte
}

var errBER = errors.New("not an SNMP message")

// tlv reads one BER tag-length-value and returns the value and the rest.
func tlv(b []byte) (tag byte, val, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errBER
	}
	tag = b[0]
	n := int(b[1])
	i := 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 3 || len(b) < 2+k {
			return 0, nil, nil, errBER
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		i += k
	}
	if n > len(b)-i {
		return 0, nil, nil, errBER
	}
	return tag, b[i : i+n], b[i+n:], nil
}

func berInt(v []byte) int {
	n := 0
	for _, c := range v {
		n = n<<8 | int(c)
	}
	return n
}

// peekHeader reads the message's version and, for v3, its flags, the
// authoritative engine id and the user name.
func peekHeader(b []byte) (header, error) {
	var h header
	tag, msg, _, err := tlv(b)
	if err != nil || tag != 0x30 {
		return h, errBER
	}
	tag, v, msg, err := tlv(msg)
	if err != nil || tag != 0x02 || len(v) != 1 {
		return h, errBER
	}
	h.version = int(v[0])
	if h.version != 3 {
		if h.version > 1 {
			return h, errBER
		}
		return h, nil
	}
	tag, global, msg, err := tlv(msg)
	if err != nil || tag != 0x30 {
		return h, errBER
	}
	for k := range 3 { // msgID, msgMaxSize, msgFlags
		var val []byte
		tag, val, global, err = tlv(global)
		if err != nil {
			return h, errBER
		}
		if k == 2 {
			if tag != 0x04 || len(val) != 1 {
				return h, errBER
			}
			h.msgFlags = val[0]
		}
	}
	tag, sp, _, err := tlv(msg)
	if err != nil || tag != 0x04 {
		return h, errBER
	}
	tag, usm, _, err := tlv(sp)
	if err != nil || tag != 0x30 {
		return h, errBER
	}
	for k := range 4 { // engine id, boots, time, user
		var val []byte
		tag, val, usm, err = tlv(usm)
		if err != nil {
			return h, errBER
		}
		switch k {
		case 0:
			h.engineID = val
		case 3:
			h.user = val
		}
	}
	return h, nil
}
