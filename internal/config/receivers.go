package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mutt-go/mutt/internal/secrets"
)

// Syslog configures the native syslog receiver. Each listen address is
// host:port; an empty one switches that transport off, and the role runs
// whenever one of them is set.
type Syslog struct {
	UDPListen string `yaml:"udp_listen"` // SYSLOG_UDP_LISTEN
	TCPListen string `yaml:"tcp_listen"` // SYSLOG_TCP_LISTEN
	TLSListen string `yaml:"tls_listen"` // SYSLOG_TLS_LISTEN
	// TLSCertFile and TLSKeyFile are the server certificate and key (PEM)
	// of the TLS listener; TLSClientCAFile, when set, makes it require a
	// client certificate signed by one of its CAs (mutual TLS).
	TLSCertFile     string `yaml:"tls_cert_file"`      // SYSLOG_TLS_CERT_FILE
	TLSKeyFile      string `yaml:"tls_key_file"`       // SYSLOG_TLS_KEY_FILE
	TLSClientCAFile string `yaml:"tls_client_ca_file"` // SYSLOG_TLS_CLIENT_CA_FILE
	// AdminListen serves /health and /metrics of the standalone role.
	AdminListen string `yaml:"admin_listen"` // SYSLOG_ADMIN_LISTEN
	// MaxMessageBytes bounds one message (a UDP datagram or a TCP frame);
	// larger ones are counted as rejected and skipped.
	MaxMessageBytes int `yaml:"max_message_bytes"` // SYSLOG_MAX_MESSAGE_BYTES
	// MaxConnections bounds the TCP and TLS connections open at once.
	MaxConnections int `yaml:"max_connections"` // SYSLOG_MAX_CONNECTIONS
	// UDPReadBuffer is the socket receive buffer (SO_RCVBUF) asked for.
	UDPReadBuffer int `yaml:"udp_read_buffer"` // SYSLOG_UDP_READ_BUFFER
}

// Enabled reports whether any syslog transport is configured.
func (s Syslog) Enabled() bool { return s.UDPListen != "" || s.TCPListen != "" || s.TLSListen != "" }

// SNMP configures the SNMP trap and inform receiver.
type SNMP struct {
	TrapListen string `yaml:"trap_listen"` // SNMP_TRAP_LISTEN (UDP)
	// Communities are the accepted v1/v2c communities, a comma list read
	// as a secret (SNMP_COMMUNITIES or SNMP_COMMUNITIES_FILE); none are
	// accepted by default.
	Communities secrets.Secret `yaml:"-"`
	// V3UsersFile is a YAML list of SNMPv3 users (see V3User).
	V3UsersFile string `yaml:"v3_users_file"` // SNMP_V3_USERS_FILE
	// EngineID is the receiver's own engine id in hex, reported to senders
	// of informs during engine discovery; empty derives one from the host.
	EngineID string `yaml:"engine_id"` // SNMP_ENGINE_ID
	// MIBDirs are directories of MIB files for OID names (optional).
	MIBDirs []string `yaml:"mib_dirs"` // SNMP_MIB_DIRS
	// AdminListen serves /health and /metrics of the standalone role.
	AdminListen string `yaml:"admin_listen"` // SNMP_ADMIN_LISTEN
	// UDPReadBuffer is the socket receive buffer (SO_RCVBUF) asked for.
	UDPReadBuffer int `yaml:"udp_read_buffer"` // SNMP_UDP_READ_BUFFER
}

// Enabled reports whether the trap receiver is configured.
func (s SNMP) Enabled() bool { return s.TrapListen != "" }

// V3User is one SNMPv3 user of SNMP_V3_USERS_FILE.
type V3User struct {
	User           string         `yaml:"user"`
	AuthProtocol   string         `yaml:"auth_protocol"` // MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512
	AuthPassphrase secrets.Secret `yaml:"-"`
	PrivProtocol   string         `yaml:"priv_protocol"` // DES, AES, AES-192, AES-256 or empty
	PrivPassphrase secrets.Secret `yaml:"-"`
	// EngineID (hex), when set, accepts this user only from that
	// authoritative engine.
	EngineID string `yaml:"engine_id"`
}

// v3UserFile is V3User as written in the file, passphrases in clear.
type v3UserFile struct {
	User           string `yaml:"user"`
	AuthProtocol   string `yaml:"auth_protocol"`
	AuthPassphrase string `yaml:"auth_passphrase"`
	PrivProtocol   string `yaml:"priv_protocol"`
	PrivPassphrase string `yaml:"priv_passphrase"`
	EngineID       string `yaml:"engine_id"`
}

var (
	authProtocols = []string{"MD5", "SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512"}
	privProtocols = []string{"DES", "AES", "AES-192", "AES-256"}
)

// ParseV3Users reads the SNMPv3 users file format and checks every entry;
// errors name the entry and the key.
func ParseV3Users(data []byte) ([]V3User, error) {
	var raw []v3UserFile
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("want a YAML list of users: %w", err)
	}
	seen := map[string]bool{}
	users := make([]V3User, 0, len(raw))
	for i, r := range raw {
		at := fmt.Sprintf("entry %d", i+1)
		if r.User == "" {
			return nil, fmt.Errorf("%s: user is required", at)
		}
		at += fmt.Sprintf(" (user %q)", r.User)
		key := r.User + "\x00" + strings.ToLower(r.EngineID)
		if seen[key] {
			return nil, fmt.Errorf("%s: listed twice", at)
		}
		seen[key] = true
		u := V3User{User: r.User, AuthProtocol: strings.ToUpper(r.AuthProtocol), PrivProtocol: strings.ToUpper(r.PrivProtocol),
			AuthPassphrase: secrets.New(r.AuthPassphrase), PrivPassphrase: secrets.New(r.PrivPassphrase), EngineID: r.EngineID}
		if !contains(authProtocols, u.AuthProtocol) {
			return nil, fmt.Errorf("%s: auth_protocol must be one of %s (noAuthNoPriv users are not accepted), got %q",
				at, strings.Join(authProtocols, ", "), r.AuthProtocol)
		}
		if len(r.AuthPassphrase) < 8 {
			return nil, fmt.Errorf("%s: auth_passphrase must be at least 8 characters", at)
		}
		if u.PrivProtocol != "" {
			if !contains(privProtocols, u.PrivProtocol) {
				return nil, fmt.Errorf("%s: priv_protocol must be empty or one of %s, got %q", at, strings.Join(privProtocols, ", "), r.PrivProtocol)
			}
			if len(r.PrivPassphrase) < 8 {
				return nil, fmt.Errorf("%s: priv_passphrase must be at least 8 characters", at)
			}
		} else if r.PrivPassphrase != "" {
			return nil, fmt.Errorf("%s: priv_passphrase is set but priv_protocol is not", at)
		}
		if r.EngineID != "" {
			if err := checkEngineID(r.EngineID); err != nil {
				return nil, fmt.Errorf("%s: engine_id %w", at, err)
			}
		}
		users = append(users, u)
	}
	return users, nil
}

// V3Users reads and checks SNMP_V3_USERS_FILE; no file means no users.
func (s SNMP) V3Users() ([]V3User, error) {
	if s.V3UsersFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(s.V3UsersFile)
	if err != nil {
		return nil, &FieldError{Field: "SNMP_V3_USERS_FILE", Rule: fmt.Sprintf("reading %s: %v", s.V3UsersFile, err)}
	}
	users, err := ParseV3Users(b)
	if err != nil {
		return nil, &FieldError{Field: "SNMP_V3_USERS_FILE", Rule: err.Error()}
	}
	return users, nil
}

// CommunityList returns the accepted communities, each as a Secret.
func (s SNMP) CommunityList() []secrets.Secret {
	var out []secrets.Secret
	for _, c := range strings.Split(s.Communities.Reveal(), ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, secrets.New(c))
		}
	}
	return out
}

// RequireSNMPCredentials reports an error when the trap receiver would
// accept nothing: no community and no v3 user. It refuses to start then
// rather than run deaf or open.
func (c *Config) RequireSNMPCredentials() error {
	users, err := c.SNMP.V3Users()
	if err != nil {
		return err
	}
	if len(c.SNMP.CommunityList()) == 0 && len(users) == 0 {
		return &FieldError{Field: "SNMP_COMMUNITIES", Rule: "no community and no SNMPv3 user is configured, so every trap would be refused; set SNMP_COMMUNITIES (or SNMP_COMMUNITIES_FILE) or SNMP_V3_USERS_FILE"}
	}
	return nil
}

func checkEngineID(s string) error {
	b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))
	if err != nil {
		return fmt.Errorf("must be hex digits, got %q", s)
	}
	if len(b) < 5 || len(b) > 32 {
		return fmt.Errorf("must be 5 to 32 bytes (RFC 3411), got %d", len(b))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func defaultSyslog() Syslog {
	return Syslog{AdminListen: ":8091", MaxMessageBytes: 128 << 10, MaxConnections: 1000, UDPReadBuffer: 16 << 20}
}

func defaultSNMP() SNMP {
	return SNMP{AdminListen: ":8092", UDPReadBuffer: 8 << 20}
}

// receiverBindings are the environment variables of the syslog and SNMP
// receivers.
func (c *Config) receiverBindings() []binding {
	s, n := &c.Syslog, &c.SNMP
	return []binding{
		{[]string{"SYSLOG_UDP_LISTEN"}, str(&s.UDPListen)},
		{[]string{"SYSLOG_TCP_LISTEN"}, str(&s.TCPListen)},
		{[]string{"SYSLOG_TLS_LISTEN"}, str(&s.TLSListen)},
		{[]string{"SYSLOG_TLS_CERT_FILE"}, str(&s.TLSCertFile)},
		{[]string{"SYSLOG_TLS_KEY_FILE"}, str(&s.TLSKeyFile)},
		{[]string{"SYSLOG_TLS_CLIENT_CA_FILE"}, str(&s.TLSClientCAFile)},
		{[]string{"SYSLOG_ADMIN_LISTEN"}, str(&s.AdminListen)},
		{[]string{"SYSLOG_MAX_MESSAGE_BYTES"}, integer(&s.MaxMessageBytes)},
		{[]string{"SYSLOG_MAX_CONNECTIONS"}, integer(&s.MaxConnections)},
		{[]string{"SYSLOG_UDP_READ_BUFFER"}, integer(&s.UDPReadBuffer)},
		{[]string{"SNMP_TRAP_LISTEN"}, str(&n.TrapListen)},
		{[]string{"SNMP_V3_USERS_FILE"}, str(&n.V3UsersFile)},
		{[]string{"SNMP_ENGINE_ID"}, str(&n.EngineID)},
		{[]string{"SNMP_MIB_DIRS"}, list(&n.MIBDirs)},
		{[]string{"SNMP_ADMIN_LISTEN"}, str(&n.AdminListen)},
		{[]string{"SNMP_UDP_READ_BUFFER"}, integer(&n.UDPReadBuffer)},
	}
}

// validateReceivers checks the syslog and SNMP settings.
func (c *Config) validateReceivers() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Rule: fmt.Sprintf(format, args...)})
	}
	optional := func(field, addr string) {
		if addr == "" {
			return
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(field, "must be host:port or :port (empty switches it off), got %q", addr)
		}
	}
	s := c.Syslog
	optional("SYSLOG_UDP_LISTEN", s.UDPListen)
	optional("SYSLOG_TCP_LISTEN", s.TCPListen)
	optional("SYSLOG_TLS_LISTEN", s.TLSListen)
	if _, _, err := net.SplitHostPort(s.AdminListen); err != nil {
		bad("SYSLOG_ADMIN_LISTEN", "must be host:port or :port, got %q", s.AdminListen)
	}
	if s.TLSListen != "" {
		for _, f := range []struct{ name, path string }{{"SYSLOG_TLS_CERT_FILE", s.TLSCertFile}, {"SYSLOG_TLS_KEY_FILE", s.TLSKeyFile}} {
			if f.path == "" {
				bad(f.name, "is required when SYSLOG_TLS_LISTEN is set")
			}
		}
	}
	if s.MaxMessageBytes < 480 || s.MaxMessageBytes > 16<<20 {
		bad("SYSLOG_MAX_MESSAGE_BYTES", "must be from 480 (RFC 5424's minimum) to 16777216, got %d", s.MaxMessageBytes)
	}
	if s.MaxConnections < 1 {
		bad("SYSLOG_MAX_CONNECTIONS", "must be at least 1, got %d", s.MaxConnections)
	}
	if s.UDPReadBuffer < 0 {
		bad("SYSLOG_UDP_READ_BUFFER", "must not be negative, got %d", s.UDPReadBuffer)
	}
	n := c.SNMP
	optional("SNMP_TRAP_LISTEN", n.TrapListen)
	if _, _, err := net.SplitHostPort(n.AdminListen); err != nil {
		bad("SNMP_ADMIN_LISTEN", "must be host:port or :port, got %q", n.AdminListen)
	}
	if n.EngineID != "" {
		if err := checkEngineID(n.EngineID); err != nil {
			bad("SNMP_ENGINE_ID", "%v", err)
		}
	}
	if n.UDPReadBuffer < 0 {
		bad("SNMP_UDP_READ_BUFFER", "must not be negative, got %d", n.UDPReadBuffer)
	}
	for _, d := range n.MIBDirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			bad("SNMP_MIB_DIRS", "%q is not a readable directory", d)
		}
	}
	if n.TrapListen != "" {
		if _, err := n.V3Users(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
