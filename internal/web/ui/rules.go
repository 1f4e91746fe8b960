package ui

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/mutt-go/mutt/internal/configinput"
	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/ruletest"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/web"
)

// rulesView is the rules page's data.
type rulesView struct {
	Rules     []store.Rule
	Event     string           // the test box's content
	Result    *ruletest.Report // the test's answer
	TestError string
}

func (u *UI) rulesList(w http.ResponseWriter, r *http.Request, s *session) {
	u.showRules(w, r, s, http.StatusOK, rulesView{})
}

func (u *UI) showRules(w http.ResponseWriter, r *http.Request, s *session, status int, v rulesView) {
	if !u.needStore(w, r, s) {
		return
	}
	list, err := u.deps.Store.ListRules(r.Context())
	if err != nil {
		u.failed(w, r, s, "listing rules", err)
		return
	}
	v.Rules = list
	u.show(w, r, s, status, "rules", "rules", "Rules", v)
}

// ruleTest runs the event of the test box through the rules engine, as
// `mutt rules test` does.
func (u *UI) ruleTest(w http.ResponseWriter, r *http.Request, s *session) {
	v := rulesView{Event: r.PostFormValue("event")}
	if strings.TrimSpace(v.Event) == "" {
		v.TestError = "Paste an event as a JSON object."
		u.showRules(w, r, s, http.StatusUnprocessableEntity, v)
		return
	}
	ev, err := ruletest.Normalize([]byte(v.Event), u.deps.RequiredFields)
	if err != nil {
		v.TestError = err.Error()
		u.showRules(w, r, s, http.StatusUnprocessableEntity, v)
		return
	}
	if !u.needStore(w, r, s) {
		return
	}
	set, err := u.deps.Store.LoadRuleSet(r.Context())
	if err != nil {
		u.failed(w, r, s, "loading the rule set", err)
		return
	}
	rep := ruletest.Decide(ev, set, u.deps.DefaultTeam)
	v.Result = &rep
	u.showRules(w, r, s, http.StatusOK, v)
}

// ruleForm is a rule as its form holds it, with the errors to show next to
// each field.
type ruleForm struct {
	ID          int64 // 0 for a new rule
	MatchString string
	TrapOID     string
	Severity    string
	MatchType   string
	Priority    string
	Prod        string
	Dev         string
	Team        string
	Active      bool
	Reason      string
	Errors      map[string]string
	Severities  []string
	MatchTypes  []string
}

func newRuleForm() ruleForm {
	return ruleForm{MatchType: string(rules.Contains), Priority: "100", Active: true, Errors: map[string]string{},
		Severities: []string{"0", "1", "2", "3", "4", "5", "6", "7"},
		MatchTypes: []string{string(rules.Contains), string(rules.Regex), string(rules.OIDPrefix)}}
}

// formFromRule fills the form with a stored rule.
func formFromRule(x store.Rule) ruleForm {
	f := newRuleForm()
	f.ID = x.ID
	if x.MatchString != nil {
		f.MatchString = *x.MatchString
	}
	if x.TrapOID != nil {
		f.TrapOID = *x.TrapOID
	}
	if x.SyslogSeverity != nil {
		f.Severity = strconv.Itoa(*x.SyslogSeverity)
	}
	f.MatchType, f.Priority = x.MatchType, strconv.Itoa(x.Priority)
	f.Prod, f.Dev, f.Team, f.Active = x.ProdHandling, x.DevHandling, x.TeamAssignment, x.IsActive
	return f
}

// readRuleForm reads the posted form into f and the rule it describes; f's
// Errors say what is wrong, field by field.
func readRuleForm(r *http.Request) (ruleForm, store.Rule) {
	f := newRuleForm()
	f.MatchString = r.PostFormValue("match_string")
	f.TrapOID = strings.TrimSpace(r.PostFormValue("trap_oid"))
	f.Severity = strings.TrimSpace(r.PostFormValue("syslog_severity"))
	f.MatchType = r.PostFormValue("match_type")
	f.Priority = strings.TrimSpace(r.PostFormValue("priority"))
	f.Prod = strings.TrimSpace(r.PostFormValue("prod_handling"))
	f.Dev = strings.TrimSpace(r.PostFormValue("dev_handling"))
	f.Team = strings.TrimSpace(r.PostFormValue("team_assignment"))
	f.Active = r.PostFormValue("is_active") != ""
	f.Reason = r.PostFormValue("reason")

	x := store.Rule{MatchType: f.MatchType, ProdHandling: f.Prod, DevHandling: f.Dev, TeamAssignment: f.Team, IsActive: f.Active}
	if f.MatchString != "" {
		ms := f.MatchString
		x.MatchString = &ms
	}
	if f.TrapOID != "" {
		oid := f.TrapOID
		x.TrapOID = &oid
	}
	var sev *int
	if f.Severity != "" {
		n, err := strconv.Atoi(f.Severity)
		if err != nil {
			f.Errors["syslog_severity"] = "must be a number from 0 to 7, or Any"
		} else {
			sev = &n
		}
	}
	x.SyslogSeverity = sev
	if n, err := strconv.Atoi(f.Priority); err != nil {
		f.Errors["priority"] = "must be a whole number"
	} else if n < -2147483648 || n > 2147483647 {
		f.Errors["priority"] = "is out of range"
	} else {
		x.Priority = n
	}
	// The API's checks in its words, then the engine's own validation: a
	// rule it accepts is one it can use.
	for field, msg := range fieldErrors(configinput.Rule(x)) {
		if _, seen := f.Errors[field]; !seen {
			f.Errors[field] = msg
		}
	}
	probe := rules.Rule{MatchString: f.MatchString, TrapOID: f.TrapOID, Severity: sev, MatchType: rules.MatchType(f.MatchType),
		Priority: x.Priority, ProdHandling: f.Prod, DevHandling: f.Dev, Team: f.Team, Active: f.Active}
	for _, err := range flatten(rules.Validate(probe)) {
		var re *rules.RuleError
		if errors.As(err, &re) {
			if _, seen := f.Errors[re.Field]; !seen {
				f.Errors[re.Field] = re.Err.Error()
			}
		} else if err != nil {
			f.Errors["match_string"] = err.Error()
		}
	}
	return f, x
}

// flatten undoes errors.Join.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (u *UI) ruleNew(w http.ResponseWriter, r *http.Request, s *session) {
	u.show(w, r, s, http.StatusOK, "rule_form", "rules", "New rule", newRuleForm())
}

func (u *UI) ruleCreate(w http.ResponseWriter, r *http.Request, s *session) {
	if !u.needStore(w, r, s) {
		return
	}
	f, x := readRuleForm(r)
	if len(f.Errors) > 0 {
		u.show(w, r, s, http.StatusUnprocessableEntity, "rule_form", "rules", "New rule", f)
		return
	}
	id, err := u.deps.Store.CreateRule(r.Context(), x, u.actor(r, s))
	if status := refusedRule(err, f); status != 0 {
		u.show(w, r, s, status, "rule_form", "rules", "New rule", f)
		return
	}
	if err != nil {
		u.failed(w, r, s, "creating the rule", err)
		return
	}
	u.redirect(w, r, "/rules", flash{Text: fmt.Sprintf("Rule %d created.", id)})
}

// pathRule reads the rule named by {id}; it answers 404 itself.
func (u *UI) pathRule(w http.ResponseWriter, r *http.Request, s *session) (store.Rule, bool) {
	if !u.needStore(w, r, s) {
		return store.Rule{}, false
	}
	id, isNumber, inRange := web.ParseID(r.PathValue("id"))
	switch {
	case !isNumber:
		u.notFound(w, r, s)
		return store.Rule{}, false
	case !inRange:
		u.errorPage(w, r, s, http.StatusNotFound, fmt.Sprintf("There is no rule %s.", r.PathValue("id")))
		return store.Rule{}, false
	}
	x, err := u.deps.Store.GetRule(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		u.errorPage(w, r, s, http.StatusNotFound, fmt.Sprintf("There is no rule %d.", id))
		return store.Rule{}, false
	}
	if err != nil {
		u.failed(w, r, s, "reading the rule", err)
		return store.Rule{}, false
	}
	return x, true
}

func (u *UI) ruleEdit(w http.ResponseWriter, r *http.Request, s *session) {
	x, ok := u.pathRule(w, r, s)
	if !ok {
		return
	}
	u.show(w, r, s, http.StatusOK, "rule_form", "rules", fmt.Sprintf("Rule %d", x.ID), formFromRule(x))
}

func (u *UI) ruleUpdate(w http.ResponseWriter, r *http.Request, s *session) {
	old, ok := u.pathRule(w, r, s)
	if !ok {
		return
	}
	f, x := readRuleForm(r)
	f.ID = old.ID
	title := fmt.Sprintf("Rule %d", old.ID)
	if len(f.Errors) > 0 {
		u.show(w, r, s, http.StatusUnprocessableEntity, "rule_form", "rules", title, f)
		return
	}
	fields := changedRuleFields(old, x)
	if len(fields) == 0 {
		u.redirect(w, r, "/rules/"+strconv.FormatInt(old.ID, 10), flash{Text: "Nothing changed."})
		return
	}
	err := u.deps.Store.UpdateRule(r.Context(), old.ID, fields, u.actor(r, s))
	if errors.Is(err, store.ErrNotFound) {
		u.redirect(w, r, "/rules", flash{Text: fmt.Sprintf("Rule %d no longer exists.", old.ID), Error: true})
		return
	}
	if status := refusedRule(err, f); status != 0 {
		u.show(w, r, s, status, "rule_form", "rules", title, f)
		return
	}
	if err != nil {
		u.failed(w, r, s, "updating the rule", err)
		return
	}
	u.redirect(w, r, "/rules", flash{Text: fmt.Sprintf("Rule %d updated (%d field(s)).", old.ID, len(fields))})
}

// refusedRule puts the store's refusal of a rule (a duplicate, or a value
// the database will not take) next to match_string and returns the status
// to show the form with; 0 when err is no refusal.
func refusedRule(err error, f ruleForm) int {
	switch {
	case errors.Is(err, store.ErrConflict):
		f.Errors["match_string"] = "a rule with the same match already exists"
		return http.StatusConflict
	case errors.Is(err, store.ErrInvalidConfigChange):
		f.Errors["match_string"] = "the database refused this rule"
		return http.StatusUnprocessableEntity
	}
	return 0
}

// changedRuleFields are the columns whose values differ, as UpdateRule
// takes them.
func changedRuleFields(old, x store.Rule) map[string]any {
	f := map[string]any{}
	for _, c := range []struct {
		column string
		same   bool
		value  any
	}{
		{"match_string", sameString(old.MatchString, x.MatchString), x.MatchString},
		{"trap_oid", sameString(old.TrapOID, x.TrapOID), x.TrapOID},
		{"syslog_severity", sameInt(old.SyslogSeverity, x.SyslogSeverity), x.SyslogSeverity},
		{"match_type", old.MatchType == x.MatchType, x.MatchType},
		{"priority", old.Priority == x.Priority, x.Priority},
		{"prod_handling", old.ProdHandling == x.ProdHandling, x.ProdHandling},
		{"dev_handling", old.DevHandling == x.DevHandling, x.DevHandling},
		{"team_assignment", old.TeamAssignment == x.TeamAssignment, x.TeamAssignment},
		{"is_active", old.IsActive == x.IsActive, x.IsActive},
	} {
		if !c.same {
			f[c.column] = c.value
		}
	}
	return f
}

// sameString compares optional strings, an empty one being the same as
// none.
func sameString(a, b *string) bool {
	if a == nil || b == nil {
		return (a == nil || *a == "") && (b == nil || *b == "")
	}
	return *a == *b
}

// sameInt compares optional numbers.
func sameInt(a, b *int) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func (u *UI) ruleDelete(w http.ResponseWriter, r *http.Request, s *session) {
	x, ok := u.pathRule(w, r, s)
	if !ok {
		return
	}
	err := u.deps.Store.DeleteRule(r.Context(), x.ID, u.actor(r, s))
	switch {
	case errors.Is(err, store.ErrNotFound):
		u.redirect(w, r, "/rules", flash{Text: fmt.Sprintf("Rule %d no longer exists.", x.ID), Error: true})
		return
	case errors.Is(err, store.ErrReferenced):
		u.redirect(w, r, "/rules/"+strconv.FormatInt(x.ID, 10), flash{Error: true,
			Text: fmt.Sprintf("Rule %d cannot be deleted: audited events refer to it. Deactivate it instead.", x.ID)})
		return
	case err != nil:
		u.failed(w, r, s, "deleting the rule", err)
		return
	}
	u.redirect(w, r, "/rules", flash{Text: fmt.Sprintf("Rule %d deleted.", x.ID)})
}
