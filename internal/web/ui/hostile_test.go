package ui

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestNo500FromHostilePages sends the dashboard what an attacker would: ids
// past the 32-bit columns in every page and form that takes one, and NUL
// characters or invalid UTF-8 in every text field of every form. Each must
// be a 4xx (or the page with the field marked), and nothing may change.
func TestNo500FromHostilePages(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login()
	b.get("/rules/new")
	ruleForm := func(field, value string) url.Values {
		f := url.Values{"match_string": {"x"}, "match_type": {"contains"}, "priority": {"1"},
			"prod_handling": {"Ignore"}, "dev_handling": {"Ignore"}, "team_assignment": {"T"}, "reason": {"r"}}
		f.Set(field, value)
		return f
	}
	for _, big := range []string{"2147483648", "4294967296", "9223372036854775807", "99999999999999999999"} {
		if p := b.get("/rules/" + big); p.Status != http.StatusNotFound {
			t.Errorf("GET /rules/%s: %d", big, p.Status)
		}
		if p := b.post("/rules/"+big, ruleForm("priority", "2")); p.Status != http.StatusNotFound {
			t.Errorf("POST /rules/%s: %d", big, p.Status)
		}
		if p := b.post("/rules/"+big+"/delete", url.Values{}); p.Status != http.StatusNotFound {
			t.Errorf("POST /rules/%s/delete: %d", big, p.Status)
		}
		for _, page := range []string{"/events?rule_id=", "/audit?record_id="} {
			p := b.get(page + big)
			if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "Enter a") {
				t.Errorf("GET %s%s: %d", page, big, p.Status)
			}
		}
	}
	type form struct {
		path   string
		values url.Values
	}
	var forms []form
	for _, bad := range []string{"a\x00b", "a\xffb"} {
		for _, f := range []string{"match_string", "trap_oid", "match_type", "prod_handling", "dev_handling", "team_assignment", "reason", "priority", "syslog_severity"} {
			forms = append(forms, form{"/rules", ruleForm(f, bad)})
		}
		forms = append(forms,
			form{"/rules/test", url.Values{"event": {`{"hostname":"h","message":"` + bad + `"}`}}},
			form{"/dev-hosts", url.Values{"hostname": {bad}, "reason": {"r"}}},
			form{"/dev-hosts", url.Values{"hostname": {"h"}, "reason": {bad}}},
			form{"/dev-hosts/delete", url.Values{"hostname": {bad}}},
			form{"/teams", url.Values{"hostname": {"h"}, "team_assignment": {bad}}},
			form{"/teams", url.Values{"hostname": {bad}, "team_assignment": {"T"}}},
			form{"/teams/update", url.Values{"hostname": {bad}, "team_assignment": {"T"}}},
			form{"/teams/delete", url.Values{"hostname": {bad}}},
			form{"/config", url.Values{"key": {"alerter_shed_mode"}, "value": {"dlq"}, "reason": {bad}}},
			form{"/config", url.Values{"key": {bad}, "value": {"1"}}},
			form{"/dlq/moog/replay", url.Values{"max": {bad}, "reason": {bad}}},
		)
	}
	for _, f := range forms {
		p := b.post(f.path, f.values)
		if p.Status >= 500 {
			t.Errorf("POST %s %v: %d", f.path, f.values, p.Status)
		}
	}
	for _, page := range []string{"/events?hostname=a%00", "/audit?changed_by=%00", "/rules/%00", "/dev-hosts?x=%ff", "/events?hostname=%ff"} {
		if p := b.get(page); p.Status >= 500 {
			t.Errorf("GET %s: %d", page, p.Status)
		}
	}
	for _, table := range []string{"alert_rules", "development_hosts", "device_teams", "config_audit_log"} {
		if n := e.count("SELECT count(*) FROM " + table); n != 0 {
			t.Errorf("%s has %d rows after refused forms", table, n)
		}
	}
	// The message names the field.
	p := b.post("/dev-hosts", url.Values{"hostname": {"a\x00b"}})
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "hostname") || !strings.Contains(p.Body, "NUL") {
		t.Errorf("NUL host: %d\n%s", p.Status, p.Body)
	}
}
