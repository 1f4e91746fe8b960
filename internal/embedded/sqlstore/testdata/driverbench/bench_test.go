package driverbench

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/ncruces/go-sqlite3/driver"
	_ "modernc.org/sqlite"
)

const batch = 500

type drv struct{ name, dsn string }

func drivers(dir string) []drv {
	p1 := filepath.Join(dir, "m.db")
	p2 := filepath.Join(dir, "n.db")
	return []drv{
		{"sqlite", "file:" + p1 + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_txlock=immediate"},
		{"sqlite3", "file:" + p2 + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)&_txlock=immediate"},
	}
}

const schema = `
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, event_id TEXT NOT NULL, ts INTEGER NOT NULL,
 hostname TEXT NOT NULL, rule INTEGER NOT NULL, handling TEXT NOT NULL, fwd INTEGER NOT NULL, raw TEXT,
 UNIQUE(event_id));
CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts);
CREATE INDEX IF NOT EXISTS audit_host ON audit(hostname);
CREATE TABLE IF NOT EXISTS q (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);
`

var raw = `{"hostname":"core-sw-01","timestamp":"2026-12-07T10:00:00Z","message":"%LINK-3-UPDOWN: Interface Gi0/1, changed state to down","syslog_severity":3,"source_type":"syslog","_event_id":"00000000-0000-0000-0000-000000000000"}`

func open(b *testing.B, d drv) *sql.DB {
	db, err := sql.Open(d.name, d.dsn)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		b.Fatal(err)
	}
	return db
}

func multiInsert(n int) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO audit (event_id, ts, hostname, rule, handling, fwd, raw) VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString("(?,?,?,?,?,?,?)")
	}
	sb.WriteString(" ON CONFLICT DO NOTHING")
	return sb.String()
}

func BenchmarkAudit(b *testing.B) {
	for _, d0 := range drivers("") {
		for _, mode := range []string{"prepared", "multirow"} {
			b.Run(d0.name+"/"+mode, func(b *testing.B) {
				d := drivers(b.TempDir())[map[string]int{"sqlite": 0, "sqlite3": 1}[d0.name]]
				db := open(b, d)
				defer db.Close()
				args := make([]any, 0, 7*100)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					tx, err := db.Begin()
					if err != nil {
						b.Fatal(err)
					}
					ts := time.Now().UnixMicro()
					if mode == "prepared" {
						st, err := tx.Prepare("INSERT INTO audit (event_id, ts, hostname, rule, handling, fwd, raw) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING")
						if err != nil {
							b.Fatal(err)
						}
						for j := 0; j < batch; j++ {
							if _, err := st.Exec(uuid.NewString(), ts, "core-sw-01", 1, "Page_and_ticket", 1, raw); err != nil {
								b.Fatal(err)
							}
						}
						st.Close()
					} else {
						q := multiInsert(100)
						for k := 0; k < batch/100; k++ {
							args = args[:0]
							for j := 0; j < 100; j++ {
								args = append(args, uuid.NewString(), ts, "core-sw-01", 1, "Page_and_ticket", 1, raw)
							}
							if _, err := tx.Exec(q, args...); err != nil {
								b.Fatal(err)
							}
						}
					}
					if err := tx.Commit(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

func BenchmarkQueue(b *testing.B) {
	for _, d0 := range drivers("") {
		b.Run(d0.name, func(b *testing.B) {
			d := drivers(b.TempDir())[map[string]int{"sqlite": 0, "sqlite3": 1}[d0.name]]
			db := open(b, d)
			defer db.Close()
			payload := []byte(raw)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// append a batch
				tx, _ := db.Begin()
				st, _ := tx.Prepare("INSERT INTO q (payload) VALUES (?)")
				for j := 0; j < batch; j++ {
					if _, err := st.Exec(payload); err != nil {
						b.Fatal(err)
					}
				}
				st.Close()
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				// read + delete in one tx
				tx, _ = db.Begin()
				rows, err := tx.Query("SELECT seq, payload FROM q ORDER BY seq LIMIT ?", batch)
				if err != nil {
					b.Fatal(err)
				}
				var last int64
				n := 0
				for rows.Next() {
					var p []byte
					rows.Scan(&last, &p)
					n++
				}
				rows.Close()
				if n != batch {
					b.Fatal(fmt.Sprint("got ", n))
				}
				if _, err := tx.Exec("DELETE FROM q WHERE seq <= ?", last); err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
