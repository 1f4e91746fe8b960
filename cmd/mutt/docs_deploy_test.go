package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/fakemoog"
	"github.com/mutt-go/mutt/internal/itest"
)

// readmeSection returns the commands of the first ```sh block after the
// heading of the README, with their line numbers and expected exit codes.
func readmeSection(t *testing.T, heading string) []docCommand {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docCommand
	in, fence := false, false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == heading:
			in = true
		case !in:
		case line == "```sh" && out == nil:
			fence = true
		case line == "```" && fence:
			return out
		case fence && line != "":
			cmd, comment := splitComment(line)
			c := docCommand{line: n, text: cmd}
			if m := exitComment.FindStringSubmatch(comment); m != nil {
				c.wantCode, _ = strconv.Atoi(m[1])
			}
			out = append(out, c)
		}
	}
	t.Fatalf("README has no closed ```sh block under %q", heading)
	return nil
}

// deployment is the scratch root the README's deployment is carried out in.
type deployment struct {
	t        *testing.T
	repo     string // the repository root: relative paths of the commands
	root     string // stands for /
	settings string // the env file's content, written where sudoedit edits
	notify   *net.UnixConn
	verified bool
}

// rooted maps an absolute path of the guide into the scratch root.
func (d *deployment) rooted(p string) string {
	if strings.HasPrefix(p, "/") {
		return filepath.Join(d.root, p)
	}
	return p
}

func (d *deployment) exec(want int, name string, args []string, env []string) string {
	d.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = d.repo
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + d.root}, env...)
	out, err := cmd.CombinedOutput()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		d.t.Fatalf("%s: %v", name, err)
	}
	if code != want {
		d.t.Fatalf("%s %s: exit %d, want %d\n%s", name, strings.Join(args, " "), code, want, out)
	}
	return string(out)
}

// prepareSystemdRoot copies the distribution's units into the scratch root
// and puts a stand-in for every program the installed units run that the
// root lacks, so systemd-analyze can verify there.
func (d *deployment) prepareSystemdRoot() {
	d.t.Helper()
	if d.verified {
		return
	}
	lib := filepath.Join(d.root, "usr", "lib", "systemd")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		d.t.Fatal(err)
	}
	d.exec(0, "cp", []string{"-a", "/usr/lib/systemd/system", lib + "/"}, nil)
	units, _ := filepath.Glob(filepath.Join(d.root, "etc", "systemd", "system", "mutt*"))
	for _, u := range units {
		b, _ := os.ReadFile(u)
		for _, m := range regexp.MustCompile(`(?m)^Exec\w+=[-@:+!]*(/\S+)`).FindAllStringSubmatch(string(b), -1) {
			p := d.rooted(m[1])
			if _, err := os.Stat(p); err == nil {
				continue
			}
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
				d.t.Fatal(err)
			}
		}
	}
	d.verified = true
}

// verify runs systemd-analyze verify on units of the scratch root.
func (d *deployment) verify(units []string) {
	d.t.Helper()
	d.prepareSystemdRoot()
	args := []string{"verify", "--man=no", "--root=" + d.root}
	for _, u := range units {
		if _, err := os.Stat(filepath.Join(d.root, "etc", "systemd", "system", filepath.Base(u))); err != nil {
			d.t.Fatalf("unit %s is not installed: %v", u, err)
		}
		args = append(args, filepath.Base(u))
	}
	if out := d.exec(0, itest.Tool(d.t, "systemd-analyze", "systemd"), args, nil); out != "" {
		d.t.Fatalf("systemd-analyze verify: %s", out)
	}
}

// unitFile is what start needs of a service unit.
type unitFile struct {
	envFiles []string
	env      []string
	exec     []string
}

func (d *deployment) readUnit(name string) unitFile {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.root, "etc", "systemd", "system", name))
	if err != nil {
		d.t.Fatal(err)
	}
	host, _ := os.Hostname()
	var u unitFile
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		v = strings.ReplaceAll(v, "%H", host)
		switch k {
		case "EnvironmentFile":
			u.envFiles = append(u.envFiles, v)
		case "Environment":
			u.env = append(u.env, v)
		case "ExecStart":
			u.exec = strings.Fields(v)
		}
	}
	return u
}

// envFrom reads EnvironmentFile= files as systemd does ("-" marks optional).
func (d *deployment) envFrom(files []string) []string {
	d.t.Helper()
	var env []string
	for _, f := range files {
		optional := strings.HasPrefix(f, "-")
		vars, err := readEnvFile(d.rooted(strings.TrimPrefix(f, "-")))
		if err != nil {
			if optional {
				continue
			}
			d.t.Fatal(err)
		}
		for k, v := range vars {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// start does what `systemctl start` of a target does with Type=notify
// services: it starts every unit the target wants with its environment and
// waits until each has sent READY=1.
func (d *deployment) start(target string) {
	d.t.Helper()
	d.verify([]string{target})
	b, _ := os.ReadFile(filepath.Join(d.root, "etc", "systemd", "system", target))
	var wants []string
	for _, m := range regexp.MustCompile(`(?m)^Wants=(.*)$`).FindAllStringSubmatch(string(b), -1) {
		wants = append(wants, strings.Fields(m[1])...)
	}
	if len(wants) != 5 {
		d.t.Fatalf("%s wants %v, want the five roles", target, wants)
	}
	sock := filepath.Join(d.t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { _ = conn.Close() })
	for _, name := range wants {
		u := d.readUnit(name)
		if len(u.exec) == 0 {
			d.t.Fatalf("%s has no ExecStart", name)
		}
		cmd := exec.Command(d.rooted(u.exec[0]), u.exec[1:]...)
		cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH"), "NOTIFY_SOCKET=" + sock}, d.envFrom(u.envFiles)...), u.env...)
		if testing.Verbose() {
			cmd.Stderr = os.Stderr
		}
		if err := cmd.Start(); err != nil {
			d.t.Fatalf("%s: %v", name, err)
		}
		d.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
	buf := make([]byte, 256)
	for ready := 0; ready < len(wants); {
		_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			d.t.Fatalf("waiting for READY=1 (%d of %d so far): %v", ready, len(wants), err)
		}
		if string(buf[:n]) == "READY=1" {
			ready++
		}
	}
}

// run carries out one command of the guide in the scratch root.
func (d *deployment) run(c docCommand) {
	d.t.Helper()
	words, err := shellWords(c.text)
	if err != nil {
		d.t.Fatalf("README line %d: %v", c.line, err)
	}
	switch words[0] {
	case "make":
		d.exec(c.wantCode, "make", words[1:], []string{"GOCACHE=" + os.Getenv("GOCACHE"), "GOPATH=" + os.Getenv("GOPATH"),
			"HOME=" + os.Getenv("HOME"), "GOFLAGS=" + os.Getenv("GOFLAGS")})
	case "useradd":
		// useradd --prefix edits the scratch root's account files.
		for _, f := range []string{"passwd", "group", "shadow", "gshadow"} {
			b, _ := os.ReadFile("/etc/" + f)
			if err := os.WriteFile(filepath.Join(d.root, "etc", f), b, 0o600); err != nil {
				d.t.Fatal(err)
			}
		}
		d.exec(c.wantCode, "useradd", append([]string{"--prefix", d.root}, words[1:]...), nil)
		if b, _ := os.ReadFile(filepath.Join(d.root, "etc", "passwd")); !regexp.MustCompile(`(?m)^mutt:`).Match(b) {
			d.t.Fatal("useradd did not add the mutt user")
		}
	case "install", "mutt":
		name, args := words[0], words[1:]
		if name == "mutt" {
			name = d.rooted("/usr/local/bin/mutt")
		}
		for i, a := range args {
			if strings.HasPrefix(a, "/") {
				args[i] = d.rooted(a)
			}
		}
		d.exec(c.wantCode, name, args, nil)
	case "sudoedit":
		if err := os.WriteFile(d.rooted(words[1]), []byte(d.settings), 0o600); err != nil {
			d.t.Fatal(err)
		}
	case "systemd-run":
		var envFiles []string
		i := 1
		for ; i < len(words) && strings.HasPrefix(words[i], "-"); i++ {
			if words[i] == "-p" {
				i++
				if f, ok := strings.CutPrefix(words[i], "EnvironmentFile="); ok {
					envFiles = append(envFiles, f)
				}
			}
		}
		out := d.exec(c.wantCode, d.rooted(words[i]), words[i+1:], d.envFrom(envFiles))
		if words[len(words)-1] == "health" {
			// Every role mutt.target started answers healthy.
			for _, role := range []string{"ingestor", "alerter", "forwarder", "remediation", "webui"} {
				if !regexp.MustCompile(`(?m)^OK\s+role\.` + role + `\s`).MatchString(out) {
					d.t.Errorf("mutt health does not find %s healthy:\n%s", role, out)
				}
			}
		}
	case "systemd-analyze":
		d.verify(words[2:])
	case "systemctl":
		switch words[1] {
		case "daemon-reload": // nothing is loaded in a scratch root
		case "enable":
			d.verify(words[2:])
		case "start":
			for _, u := range words[2:] {
				d.start(u)
			}
		default:
			d.t.Fatalf("README line %d: systemctl %s has no stand-in here", c.line, words[1])
		}
	default:
		d.t.Fatalf("README line %d: %q has no stand-in in this test", c.line, words[0])
	}
}

// TestReadmeDeployingSection carries out the README's "Deploying" section,
// command by command, in a scratch root, against the test's PostgreSQL,
// Redis and a fake Moogsoft, and checks that mutt health finds every role
// of mutt.target healthy.
func TestReadmeDeployingSection(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("useradd --prefix needs root")
	}
	commands := readmeSection(t, "## Deploying")
	if len(commands) < 10 || commands[0].text != "make build" || commands[len(commands)-2].wantCode != 0 {
		t.Fatalf("the Deploying section changed shape: %+v", commands)
	}
	fake := fakemoog.New(fakemoog.Options{APIKey: "deploy-moog-key-0123456789"})
	moog := httptest.NewServer(fake)
	defer moog.Close()
	_, prefix := itest.Redis(t)
	repo, _ := filepath.Abs(filepath.Join("..", ".."))
	d := &deployment{t: t, repo: repo, root: t.TempDir()}
	// The directories a Debian system has before MUTT is installed.
	for _, dir := range []string{"etc/systemd/system", "usr/local/bin", "usr/sbin", "var/lib"} {
		if err := os.MkdirAll(filepath.Join(d.root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	settings := []string{
		"DATABASE_URL=" + itest.Database(t), "REDIS_URL=" + itest.RedisURL(), "MUTT_KEY_PREFIX=" + prefix,
		"INGEST_API_KEY=deploy-ingest-key-0123456789", "WEBUI_API_KEY=deploy-webui-key-0123456789", "MOOG_API_KEY=deploy-moog-key-0123456789", "MOOG_WEBHOOK_URL=" + moog.URL + "/events",
		"MUTT_BACKUP_ROOT=" + t.TempDir(), "MUTT_ARCHIVE_DIR=" + t.TempDir(), "LOG_FORMAT=text", "LOG_LEVEL=warn",
	}
	for _, v := range []string{"INGEST_LISTEN", "ALERTER_METRICS_LISTEN", "ALERTER_HEALTH_LISTEN", "FORWARDER_METRICS_LISTEN",
		"FORWARDER_HEALTH_LISTEN", "REMEDIATION_METRICS_LISTEN", "REMEDIATION_HEALTH_LISTEN", "WEBUI_LISTEN"} {
		settings = append(settings, fmt.Sprintf("%s=127.0.0.1:%d", v, itest.FreePort(t)))
	}
	d.settings = strings.Join(settings, "\n") + "\n"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, c := range commands {
		if ctx.Err() != nil {
			t.Fatal("the deployment took longer than 5 minutes")
		}
		t.Logf("README line %d: %s", c.line, c.text)
		d.run(c)
	}
}
