package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestNo500FromHostileInput sends what an attacker would: ids past the
// 32-bit columns, NUL characters in every text field, path and query, and
// JSON that encoding/json would accept with a silent repair (duplicate
// keys, invalid UTF-8, lone surrogates). Each must be a 4xx whose JSON
// error names the field, and nothing may change.
func TestNo500FromHostileInput(t *testing.T) {
	e := newEnv(t)
	id := e.seed()
	rule := func(field, value string) string {
		m := map[string]string{"match_string": `"a"`, "prod_handling": `"P"`, "dev_handling": `"D"`, "team_assignment": `"T"`}
		m[field] = value
		var parts []string
		for _, k := range []string{"match_string", "prod_handling", "dev_handling", "team_assignment", "reason", "trap_oid", "match_type"} {
			if v, ok := m[k]; ok {
				parts = append(parts, fmt.Sprintf("%q:%s", k, v))
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	rulePath := fmt.Sprintf("/api/v2/rules/%d", id)
	tests := []refusal{
		{"rule id 2^31", "GET", "/api/v1/rules/2147483648", ``, 404, "Rule not found"},
		{"rule id max int64", "GET", "/api/v2/rules/9223372036854775807", ``, 404, "Rule not found"},
		{"update rule id 2^31", "PUT", "/api/v1/rules/2147483648", `{"priority":1}`, 404, "Rule not found"},
		{"delete rule id 2^32", "DELETE", "/api/v1/rules/4294967296", ``, 404, "Rule not found"},
		{"rule_id filter 2^31", "GET", "/api/v1/audit-logs?rule_id=2147483648", ``, 400, "invalid rule_id…"},
		{"record_id filter 2^31", "GET", "/api/v1/audit?record_id=2147483648", ``, 400, "invalid record_id…"},
		{"record_id filter 2^63", "GET", "/api/v2/config-audit?record_id=9223372036854775808", ``, 400, "invalid record_id…"},

		{"NUL in match_string", "POST", "/api/v1/rules", rule("match_string", `"a\u0000b"`), 400, `field "match_string" must not contain NUL characters`},
		{"NUL in trap_oid", "POST", "/api/v1/rules", rule("trap_oid", `"1.3\u0000"`), 400, `field "trap_oid" must not contain NUL characters`},
		{"NUL in prod_handling", "POST", "/api/v1/rules", rule("prod_handling", `"\u0000"`), 400, `field "prod_handling" must not contain NUL characters`},
		{"NUL in team_assignment", "POST", "/api/v2/rules", rule("team_assignment", `"T\u0000"`), 400, `field "team_assignment" must not contain NUL characters`},
		{"NUL in match_type", "POST", "/api/v2/rules", rule("match_type", `"regex\u0000"`), 400, `field "match_type" must not contain NUL characters`},
		{"NUL in reason", "POST", "/api/v1/rules", rule("reason", `"why\u0000"`), 400, `field "reason" must not contain NUL characters`},
		{"NUL in update", "PUT", rulePath, `{"dev_handling":"x\u0000y"}`, 400, `field "dev_handling" must not contain NUL characters`},
		{"NUL in delete reason", "DELETE", rulePath, `{"reason":"\u0000"}`, 400, `field "reason" must not contain NUL characters`},
		{"NUL in dev host", "POST", "/api/v1/dev-hosts", `{"hostname":"h\u0000"}`, 400, `field "hostname" must not contain NUL characters`},
		{"NUL in team", "POST", "/api/v1/teams", `{"hostname":"h","team_assignment":"\u0000"}`, 400, `field "team_assignment" must not contain NUL characters`},
		{"NUL in team update", "PUT", "/api/v1/teams/core-rtr-01", `{"team_assignment":"x\u0000"}`, 400, `field "team_assignment" must not contain NUL characters`},
		{"NUL in config value", "PUT", "/api/v1/config/alerter_shed_mode", `{"value":"dlq\u0000"}`, 400, `field "value" must not contain NUL characters`},
		{"NUL in config reason", "PUT", "/api/v1/config/alerter_shed_mode", `{"value":"dlq","reason":"\u0000"}`, 400, `field "reason" must not contain NUL characters`},
		{"NUL in a key", "POST", "/api/v1/dev-hosts", `{"host\u0000name":"h"}`, 400, `field "host\x00name" must not contain NUL characters`},
		{"NUL in host path", "DELETE", "/api/v1/dev-hosts/dev-sw-01%00", ``, 400, `the path must not contain NUL characters`},
		{"NUL in team path", "PUT", "/api/v1/teams/core%00", `{"team_assignment":"X"}`, 400, `the path must not contain NUL characters`},
		{"NUL in team delete path", "DELETE", "/api/v2/teams/%00", ``, 400, `the path must not contain NUL characters`},
		{"NUL in config path", "PUT", "/api/v1/config/a%00b", `{"value":1}`, 400, `the path must not contain NUL characters`},
		{"NUL in hostname filter", "GET", "/api/v1/audit-logs?hostname=a%00", ``, 400, `query parameter "hostname" must not contain NUL characters`},
		{"NUL in changed_by filter", "GET", "/api/v1/audit?changed_by=%00", ``, 400, `query parameter "changed_by" must not contain NUL characters`},
		{"NUL in table_name filter", "GET", "/api/v2/config-audit?table_name=x%00", ``, 400, `query parameter "table_name" must not contain NUL characters`},

		{"invalid UTF-8 in path", "DELETE", "/api/v1/dev-hosts/%ff", ``, 400, `the path must be valid UTF-8`},
		{"invalid UTF-8 in query", "GET", "/api/v1/audit-logs?hostname=%c3", ``, 400, `query parameter "hostname" must be valid UTF-8`},
		{"NUL in a query name", "GET", "/api/v1/audit?a%00=1", ``, 400, `a query parameter name must not contain NUL characters`},

		{"duplicate key", "POST", "/api/v1/dev-hosts", `{"hostname":"a","hostname":"b"}`, 400, `field "hostname" appears more than once`},
		{"duplicate key in rule", "POST", "/api/v1/rules", `{"match_string":"a","prod_handling":"P","dev_handling":"D","team_assignment":"T","team_assignment":"U"}`, 400, `field "team_assignment" appears more than once`},
		{"duplicate escaped key", "PUT", rulePath, `{"priority":1,"\u0070riority":2}`, 400, `field "priority" appears more than once`},
		{"duplicate nested key", "PUT", "/api/v1/config/alerter_shed_mode", `{"value":{"a":1,"a":2}}`, 400, `field "value.a" appears more than once`},
		{"invalid UTF-8", "POST", "/api/v1/dev-hosts", "{\"hostname\":\"h\xff\"}", 400, `field "hostname" must be valid UTF-8`},
		{"invalid UTF-8 in reason", "DELETE", rulePath, "{\"reason\":\"\xc3\"}", 400, `field "reason" must be valid UTF-8`},
		{"lone high surrogate", "POST", "/api/v1/teams", `{"hostname":"h","team_assignment":"\ud800"}`, 400, `field "team_assignment" must not contain a \u escape of an unpaired UTF-16 surrogate`},
		{"lone low surrogate", "POST", "/api/v1/rules", rule("match_string", `"\udc00x"`), 400, `field "match_string" must not contain a \u escape of an unpaired UTF-16 surrogate`},
		{"surrogate in array", "PUT", "/api/v1/config/alerter_shed_mode", `{"value":["\ud83d"]}`, 400, `field "value[0]" must not contain a \u escape of an unpaired UTF-16 surrogate`},
	}
	e.checkRefusals(t, tests)
	// A surrogate pair and escapes that are not NUL are fine.
	e.do(req{method: "POST", path: "/api/v1/dev-hosts", body: `{"hostname":"h-\ud83d\ude00-\u00e9"}`}).want(t, http.StatusCreated)
	if e.count(`SELECT count(*) FROM development_hosts WHERE hostname = 'h-😀-é'`) != 1 {
		t.Error("a valid surrogate pair was not stored as its character")
	}
}
