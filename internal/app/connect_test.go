package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/secrets"
)

func testLogger() (*slog.Logger, *itest.Buffer) {
	out := &itest.Buffer{}
	return slog.New(slog.NewJSONHandler(out, nil)), out
}

// aclUser creates a Redis ACL user limited to prefix with password pw and
// deletes it when the test ends.
func aclUser(t *testing.T, admin *redis.Client, prefix, pw string) string {
	t.Helper()
	ctx := context.Background()
	user := itest.RandomName("mutt_test_user_")
	if err := admin.Do(ctx, "ACL", "SETUSER", user, "on", ">"+pw, "~"+prefix+"*", "&*", "+@all").Err(); err != nil {
		t.Fatalf("creating ACL user: %v", err)
	}
	t.Cleanup(func() {
		if err := admin.Do(context.Background(), "ACL", "DELUSER", user).Err(); err != nil {
			t.Errorf("deleting ACL user: %v", err)
		}
	})
	return user
}

// setOnlyPassword makes pw the only password Redis accepts for user and
// drops the user's connections, so the client must dial again.
func setOnlyPassword(t *testing.T, admin *redis.Client, user string, pws ...string) {
	t.Helper()
	ctx := context.Background()
	args := []any{"ACL", "SETUSER", user, "resetpass"}
	for _, pw := range pws {
		args = append(args, ">"+pw)
	}
	if err := admin.Do(ctx, args...).Err(); err != nil {
		t.Fatalf("changing ACL passwords: %v", err)
	}
	if err := admin.Do(ctx, "CLIENT", "KILL", "USER", user).Err(); err != nil {
		t.Fatalf("killing the user's connections: %v", err)
	}
}

func redisConfigFor(t *testing.T, user string, current, next string) config.Redis {
	t.Helper()
	u, err := url.Parse(itest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(user)
	return config.Redis{
		URL: config.NewURL(u.String()), MaxConnections: 2,
		Password: secrets.New(current), PasswordNext: secrets.New(next),
	}
}

func firstCandidate(p *secrets.Pair) string {
	c := p.Candidates()
	if len(c) == 0 {
		return ""
	}
	return c[0].Reveal()
}

func TestRedisNewConnectionsFollowRotation(t *testing.T) {
	admin, prefix := itest.Redis(t)
	ctx := context.Background()
	pwA, pwB, pwC := itest.RandomName("pwA-"), itest.RandomName("pwB-"), itest.RandomName("pwC-")
	user := aclUser(t, admin, prefix, pwA)
	cfg := redisConfigFor(t, user, pwA, pwB)
	pair := secrets.NewPair(cfg.Password, cfg.PasswordNext)
	cfg.Credentials = pair
	logger, logs := testLogger()
	client, err := ConnectRedis(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("ConnectRedis: %v", err)
	}
	defer client.Close()
	key := prefix + ":counter"
	incr := func(step string) {
		t.Helper()
		for i := 0; i < 5; i++ {
			if err := client.Incr(ctx, key).Err(); err != nil {
				t.Fatalf("%s: INCR: %v", step, err)
			}
		}
	}
	incr("with CURRENT")

	// Rotation step 5: the store accepts only NEXT now.
	setOnlyPassword(t, admin, user, pwB)
	incr("after CURRENT was removed")
	if got := firstCandidate(pair); got != pwB {
		t.Errorf("pair does not remember NEXT as accepted")
	}

	// A Vault re-read promotes NEXT and brings a fresh NEXT; the store
	// then moves on to it.
	pair.Set(secrets.New(pwB), secrets.New(pwC))
	setOnlyPassword(t, admin, user, pwC)
	incr("after the second rotation")

	if n, err := admin.Get(ctx, key).Int(); err != nil || n != 15 {
		t.Errorf("counter = %d, %v; want 15", n, err)
	}

	// Neither value is valid: the dial fails, says which settings to fix,
	// and asks the provider for fresh values.
	pair.Set(secrets.New("wrong-x"), secrets.New("wrong-y"))
	setOnlyPassword(t, admin, user, pwC)
	err = client.Incr(ctx, key).Err()
	if err == nil || !strings.Contains(err.Error(), "REDIS_PASS_CURRENT") {
		t.Fatalf("err = %v, want a refusal naming REDIS_PASS_CURRENT", err)
	}
	select {
	case <-pair.RefreshRequests():
	default:
		t.Error("no refresh requested after both passwords were refused")
	}
	for _, pw := range []string{pwA, pwB, pwC, "wrong-x", "wrong-y"} {
		if strings.Contains(err.Error(), pw) || strings.Contains(logs.String(), pw) {
			t.Errorf("a password leaked into the error or the logs")
		}
	}
	if !strings.Contains(logs.String(), "Redis refused a password") {
		t.Error("refusals were not logged")
	}
}

func TestConnectRedisWithOnlyNextValid(t *testing.T) {
	admin, prefix := itest.Redis(t)
	ctx := context.Background()
	pwA, pwB := itest.RandomName("pwA-"), itest.RandomName("pwB-")
	user := aclUser(t, admin, prefix, pwB)
	tests := []struct {
		name    string
		current string
		next    string
	}{
		{"current refused", pwA, pwB},
		{"no current", "", pwB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, _ := testLogger()
			client, err := ConnectRedis(ctx, redisConfigFor(t, user, tt.current, tt.next), logger)
			if err != nil {
				t.Fatalf("ConnectRedis: %v", err)
			}
			defer client.Close()
			if err := client.Set(ctx, prefix+":k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
	logger, _ := testLogger()
	_, err := ConnectRedis(ctx, redisConfigFor(t, user, pwA, ""), logger)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("ConnectRedis with only a refused password: err = %v", err)
	}
}

func TestConnectRedisWithoutPassword(t *testing.T) {
	_, prefix := itest.Redis(t)
	logger, _ := testLogger()
	client, err := ConnectRedis(context.Background(), config.Redis{URL: config.NewURL(itest.RedisURL()), MaxConnections: 5}, logger)
	if err != nil {
		t.Fatalf("ConnectRedis: %v", err)
	}
	defer client.Close()
	if err := client.Set(context.Background(), prefix+":k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

// fakeProbe accepts one password and refuses the others with 28P01, or
// fails with err for every password when err is set.
type fakeProbe struct {
	accept string
	err    error
	tried  []string
}

func (f *fakeProbe) probe(_ context.Context, cfg *pgconn.Config) error {
	f.tried = append(f.tried, cfg.Password)
	if f.err != nil {
		return f.err
	}
	if cfg.Password == f.accept {
		return nil
	}
	return fmt.Errorf("connecting: %w", &pgconn.PgError{Severity: "FATAL", Code: "28P01",
		Message: "password authentication failed for user \"mutt\""})
}

func TestPgAuthChoosesAcceptedPassword(t *testing.T) {
	tests := []struct {
		name       string
		current    string
		next       string
		probe      fakeProbe
		want       string // password set on the connection
		wantTried  string
		wantErr    bool
		wantSecond string // tried on the next connection
	}{
		{"current accepted", "a", "b", fakeProbe{accept: "a"}, "a", "a", false, "a"},
		{"next accepted", "a", "b", fakeProbe{accept: "b"}, "b", "a,b", false, "b"},
		{"only current, no probe", "a", "", fakeProbe{accept: "x"}, "a", "", false, ""},
		{"only next, no probe", "", "b", fakeProbe{accept: "x"}, "b", "", false, ""},
		{"both refused", "a", "b", fakeProbe{accept: "x"}, "", "a,b", true, "a,b"},
		{"server down", "a", "b", fakeProbe{err: errors.New("dial tcp: connection refused")}, "a", "a", false, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pair := secrets.NewPair(secrets.New(tt.current), secrets.New(tt.next))
			logger, logs := testLogger()
			probe := tt.probe
			a := &pgAuth{pair: pair, logger: logger, probe: probe.probe}
			cc, err := pgx.ParseConfig("host=127.0.0.1 user=mutt dbname=mutt")
			if err != nil {
				t.Fatal(err)
			}
			err = a.beforeConnect(context.Background(), cc)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "DB_PASS_CURRENT") {
					t.Fatalf("err = %v, want a refusal naming DB_PASS_CURRENT", err)
				}
				if strings.Contains(err.Error(), `"a"`) || strings.Contains(logs.String(), `"b"`) {
					t.Error("a password leaked")
				}
				select {
				case <-pair.RefreshRequests():
				default:
					t.Error("no refresh requested")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if cc.Password != tt.want {
					t.Errorf("password = %q, want %q", cc.Password, tt.want)
				}
			}
			if got := strings.Join(probe.tried, ","); got != tt.wantTried {
				t.Errorf("tried %q, want %q", got, tt.wantTried)
			}
			probe.tried = nil
			_ = a.beforeConnect(context.Background(), cc)
			if got := strings.Join(probe.tried, ","); got != tt.wantSecond {
				t.Errorf("next connection tried %q, want %q", got, tt.wantSecond)
			}
		})
	}
}

// TestConnectPostgresWithPair runs the real probe against the machine's
// PostgreSQL. Its pg_hba trusts 127.0.0.1, so it cannot refuse a password;
// the refusal path is covered by TestPgAuthChoosesAcceptedPassword.
func TestConnectPostgresWithPair(t *testing.T) {
	dsn := itest.Database(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	role := itest.RandomName("mutt_test_role_")
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD 'a'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, itest.AdminDatabaseURL())
		if err != nil {
			t.Errorf("connecting to drop the role: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Errorf("dropping role: %v", err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	pair := secrets.NewPair(secrets.New("a"), secrets.New("b"))
	logger, _ := testLogger()
	pool, err := ConnectPostgres(ctx, config.Postgres{URL: config.NewURL(u.String()), PoolMinConns: 1, PoolMaxConns: 2, Credentials: pair}, logger)
	if err != nil {
		t.Fatalf("ConnectPostgres: %v", err)
	}
	var who string
	err = pool.QueryRow(ctx, "SELECT current_user").Scan(&who)
	pool.Close()
	if err != nil || who != role {
		t.Fatalf("current_user = %q, %v; want %q", who, err, role)
	}
	if firstCandidate(pair) != "a" {
		t.Error("the probe did not record CURRENT as accepted")
	}
}
