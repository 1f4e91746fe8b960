package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/secrets"
)

// which names a candidate password for logs without showing it.
func which(pair *secrets.Pair, s secrets.Secret) string {
	if pair.IsNext(s) {
		return "next"
	}
	return "current"
}

// redisAuth authenticates every new Redis connection inside the dialer, so
// a refused password can be retried with the other one on the same
// connection before go-redis sees it: the connection that comes out is
// authenticated, or the dial fails.
type redisAuth struct {
	pair     *secrets.Pair
	username string // ACL user; empty for the default user
	timeout  time.Duration
	netDial  func(ctx context.Context, network, addr string) (net.Conn, error)
	logger   *slog.Logger
}

func (a *redisAuth) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return a.DialHook(a.netDial)(ctx, network, addr)
}

// DialHook authenticates each connection next dials, as dial does; a
// failover client, whose dialer asks the Sentinels first, takes it as a
// hook.
func (a *redisAuth) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if err := a.authenticate(ctx, conn); err != nil {
			_ = conn.Close()
			return nil, err
		}
		return conn, nil
	}
}

// ProcessHook leaves commands alone.
func (a *redisAuth) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

// ProcessPipelineHook leaves pipelines alone.
func (a *redisAuth) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (a *redisAuth) authenticate(ctx context.Context, conn net.Conn) error {
	candidates := a.pair.Candidates()
	if len(candidates) == 0 {
		return nil
	}
	deadline := time.Now().Add(a.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("authenticating to Redis: %w", err)
	}
	var refused error
	for _, pw := range candidates {
		err := redisAUTH(conn, a.username, pw)
		if err == nil {
			if a.pair.Accepted(pw) {
				a.logger.Warn("Redis accepted another password; new connections use it", "password", which(a.pair, pw))
			}
			if err := conn.SetDeadline(time.Time{}); err != nil {
				return fmt.Errorf("authenticating to Redis: %w", err)
			}
			return nil
		}
		var re *redisReplyError
		if !errors.As(err, &re) || !re.wrongPassword() {
			return fmt.Errorf("authenticating to Redis: %w", err)
		}
		a.logger.Warn("Redis refused a password for a new connection", "password", which(a.pair, pw), "error", err)
		refused = err
	}
	// Both refused: the provider may hold newer values than the pair.
	a.pair.RequestRefresh()
	return fmt.Errorf("Redis refused every configured password (REDIS_PASS_CURRENT, REDIS_PASS_NEXT): %w", refused)
}

// redisReplyError is an error reply ("-ERR …") of the Redis server.
type redisReplyError struct{ msg string }

func (e *redisReplyError) Error() string { return e.msg }

// wrongPassword reports whether the reply refuses the credentials (as
// opposed to, say, a server that has no password set).
func (e *redisReplyError) wrongPassword() bool {
	return strings.HasPrefix(e.msg, "WRONGPASS") || strings.HasPrefix(e.msg, "ERR invalid password") ||
		strings.HasPrefix(e.msg, "ERR invalid username-password pair")
}

// redisAUTH sends AUTH [username] password on a fresh connection and reads
// the one-line reply. It reads byte by byte so that nothing beyond the
// reply is consumed before go-redis takes the connection over.
func redisAUTH(conn net.Conn, username string, pw secrets.Secret) error {
	args := []string{"AUTH"}
	if username != "" {
		args = append(args, username)
	}
	args = append(args, pw.Reveal())
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, arg := range args {
		b.WriteString("$" + strconv.Itoa(len(arg)) + "\r\n" + arg + "\r\n")
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return fmt.Errorf("sending AUTH: %w", err)
	}
	line := make([]byte, 0, 64)
	one := make([]byte, 1)
	for len(line) < 1024 {
		if _, err := conn.Read(one); err != nil {
			return fmt.Errorf("reading the AUTH reply: %w", err)
		}
		if one[0] == '\n' {
			break
		}
		line = append(line, one[0])
	}
	reply := strings.TrimSuffix(string(line), "\r")
	switch {
	case strings.HasPrefix(reply, "+"):
		return nil
	case strings.HasPrefix(reply, "-"):
		return &redisReplyError{msg: reply[1:]}
	default:
		return errors.New("unexpected reply to AUTH")
	}
}

// pgAuth chooses the password of every new PostgreSQL connection of a
// pool (pgxpool's BeforeConnect). A PostgreSQL role holds one password and
// pgx cannot retry a refused password inside one connection attempt, so
// while two passwords are configured each new connection is preceded by a
// short authentication probe: the password accepted last (CURRENT at
// first) is tried, and on SQLSTATE 28P01 the other one. With one password
// there is nothing to choose and no probe.
type pgAuth struct {
	pair   *secrets.Pair
	logger *slog.Logger
	// probe opens and closes a connection with cfg; tests replace it.
	probe func(ctx context.Context, cfg *pgconn.Config) error
}

// invalidPassword is PostgreSQL's SQLSTATE for a refused password.
const invalidPassword = "28P01"

func (a *pgAuth) beforeConnect(ctx context.Context, cc *pgx.ConnConfig) error {
	candidates := a.pair.Candidates()
	switch len(candidates) {
	case 0:
		return nil
	case 1:
		cc.Password = candidates[0].Reveal()
		return nil
	}
	var refused error
	for _, pw := range candidates {
		cc.Password = pw.Reveal()
		err := a.probe(ctx, &cc.Config)
		if err == nil {
			if a.pair.Accepted(pw) {
				a.logger.Warn("PostgreSQL accepted another password; new connections use it", "password", which(a.pair, pw))
			}
			return nil
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != invalidPassword {
			// Not about the password (server down, …): let the real
			// connection attempt report it.
			cc.Password = candidates[0].Reveal()
			return nil
		}
		a.logger.Warn("PostgreSQL refused a password for a new connection", "password", which(a.pair, pw), "error", err)
		refused = err
	}
	a.pair.RequestRefresh()
	return fmt.Errorf("PostgreSQL refused every configured password (DB_PASS_CURRENT, DB_PASS_NEXT): %w", refused)
}

// probePostgres opens a bare connection with cfg and closes it at once.
func probePostgres(ctx context.Context, cfg *pgconn.Config) error {
	c := cfg.Copy()
	c.AfterConnect, c.ValidateConnect = nil, nil
	conn, err := pgconn.ConnectConfig(ctx, c)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}
