package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/mutt-go/mutt/internal/config"
)

// RoleNames returns the roles whose /health endpoint Run probes, in start
// order: the names of their subcommands.
func RoleNames() []string {
	return []string{"ingestor", "alerter", "forwarder", "remediation", "webui", "syslog", "snmptrap"}
}

// IsRole reports whether name is one of RoleNames.
func IsRole(name string) bool { return slices.Contains(RoleNames(), name) }

// RoleCheckName is the name of the check of role's /health endpoint.
func RoleCheckName(role string) string { return "role." + role }

// healthListen returns the address role answers /health on.
func healthListen(cfg config.Config, role string) (string, bool) {
	switch role {
	case "ingestor":
		return cfg.Ingest.Listen, true
	case "alerter":
		return cfg.Alerter.HealthListen, true
	case "forwarder":
		return cfg.Forwarder.HealthListen, true
	case "remediation":
		return cfg.Remediation.HealthListen, true
	case "webui":
		return cfg.Web.Listen, true
	case "syslog":
		return cfg.Syslog.AdminListen, true
	case "snmptrap":
		return cfg.SNMP.AdminListen, true
	}
	return "", false
}

// dialAddress turns a listen address into one to connect to: a listener
// on every interface (":8082", "0.0.0.0:8082", "[::]:8082") is reached on
// the loopback interface.
func dialAddress(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// healthBody is the part of a /health response the check reads.
type healthBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	Errors []string          `json:"errors"`
}

// roleCheck probes GET /health of role. Nothing listening means the role
// is not running here, which is normal on a host that runs only some
// roles, unless the role was asked for by name.
func (r *runner) roleCheck(ctx context.Context, role string, requested bool) Check {
	return r.timed(ctx, RoleCheckName(role), func(ctx context.Context) (Status, string) {
		listen, ok := healthListen(r.opts.Config, role)
		if !ok {
			return StatusFail, fmt.Sprintf("unknown role %q; roles are %s", role, strings.Join(RoleNames(), ", "))
		}
		addr, err := dialAddress(listen)
		if err != nil {
			return StatusFail, err.Error()
		}
		url := "http://" + addr + "/health"
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return StatusFail, fmt.Sprintf("building request for %s: %v", url, err)
		}
		resp, err := r.opts.HTTPClient.Do(req)
		if errors.Is(err, syscall.ECONNREFUSED) {
			if requested {
				return StatusFail, fmt.Sprintf("not running: nothing listens on %s", addr)
			}
			return StatusSkipped, fmt.Sprintf("not running (nothing listens on %s)", addr)
		}
		if err != nil {
			return StatusFail, timeoutHint(ctx, fmt.Errorf("GET %s: %w", url, err))
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return judgeHealth(resp.StatusCode, raw, url)
	})
}

// judgeHealth reads a /health response: anything but 200 fails, with the
// errors the body names; 200 with a dependency reported as other than ok
// (Vault or Moogsoft, which never make a service unhealthy) warns.
func judgeHealth(code int, raw []byte, url string) (Status, string) {
	var body healthBody
	_ = json.Unmarshal(raw, &body) // the remediation role may answer text
	if code != http.StatusOK {
		detail := fmt.Sprintf("HTTP %d from %s", code, url)
		if len(body.Errors) > 0 {
			detail += ": " + strings.Join(body.Errors, "; ")
		} else if text := strings.TrimSpace(string(raw)); text != "" && body.Status == "" {
			detail += ": " + truncate(text, 200)
		}
		return StatusFail, detail
	}
	var degraded []string
	for name, state := range body.Checks {
		if !strings.EqualFold(state, "ok") {
			degraded = append(degraded, name+": "+state)
		}
	}
	if len(degraded) > 0 {
		sort.Strings(degraded)
		return StatusWarn, fmt.Sprintf("HTTP 200 from %s; %s", url, strings.Join(degraded, "; "))
	}
	return StatusOK, fmt.Sprintf("HTTP 200 from %s", url)
}

// truncate shortens s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
