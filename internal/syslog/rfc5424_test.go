package syslog

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/leodido/go-syslog/v4/rfc5424"
)

// FuzzRFC5424MatchesGoSyslog checks the RFC 5424 parser against
// github.com/leodido/go-syslog, a maintained parser generated from the
// RFC's grammar: every message it accepts must be read the same here.
func FuzzRFC5424MatchesGoSyslog(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.log")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		for _, line := range bytes.Split(data, []byte{'\n'}) {
			f.Add(line)
		}
	}
	f.Add([]byte(`<13>1 2025-06-14T11:00:00.123456+02:00 h a p m [id@1 k="a\"b\]c\\d" k2="v"][id2 x=""] msg`))
	f.Add([]byte(`<13>1 - - - - - -`))
	ref := rfc5424.NewParser()
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := ref.Parse(b)
		if err != nil || res == nil {
			return
		}
		want, ok := res.(*rfc5424.SyslogMessage)
		if !ok || !want.Valid() || want.Priority == nil {
			return
		}
		var m Message
		if !parse5424(b, &m) {
			t.Fatalf("go-syslog accepts %q, parse5424 does not", b)
		}
		str := func(p *string) string {
			if p == nil || *p == "-" {
				return ""
			}
			return *p
		}
		for _, c := range [][2]string{
			{string(m.Hostname), str(want.Hostname)}, {string(m.AppName), str(want.Appname)},
			{string(m.ProcID), str(want.ProcID)}, {string(m.MsgID), str(want.MsgID)},
			{string(m.Msg), string(bytes.TrimPrefix([]byte(msgOf(want.Message)), []byte("\xef\xbb\xbf")))},
		} {
			if c[0] != c[1] {
				t.Fatalf("%q: got %q, go-syslog %q", b, c[0], c[1])
			}
		}
		if want.Timestamp != nil && !want.Timestamp.Equal(m.Timestamp) {
			t.Fatalf("%q: timestamp %v, go-syslog %v", b, m.Timestamp, *want.Timestamp)
		}
		if want.StructuredData != nil {
			for id, params := range *want.StructuredData {
				if !maps.Equal(params, m.StructuredData[id]) {
					t.Fatalf("%q: SD %s = %v, go-syslog %v", b, id, m.StructuredData[id], params)
				}
			}
		}
	})
}

func msgOf(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
