package web

import (
	"net/http"
	"time"

	"github.com/mutt-go/mutt/internal/configinput"
	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/store"
)

// ruleFields are the writable members of a rule body, in canonical order.
var ruleFields = store.RuleColumns()

// requiredRuleFields must be present in a new rule.
var requiredRuleFields = []string{"prod_handling", "dev_handling", "team_assignment"}

// ruleID reads {id}: a non-negative integer, else the request is answered
// 404 "Not found" (no such route), or "Rule not found" for a number past
// the id column's range, and ok is false.
func ruleID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, isNumber, inRange := ParseID(r.PathValue("id"))
	switch {
	case !isNumber:
		writeError(w, http.StatusNotFound, msgNotFound)
		return 0, false
	case !inRange:
		writeError(w, http.StatusNotFound, msgRuleNotFound)
		return 0, false
	}
	return id, true
}

func (s *Server) handleRulesList(w http.ResponseWriter, r *http.Request) {
	if !s.needStore(w) {
		return
	}
	start := time.Now()
	list, err := s.deps.Store.ListRules(r.Context())
	elapsed := time.Since(start)
	s.metrics.dbLatency.WithLabelValues("get_rules").Observe(float64(elapsed) / float64(time.Millisecond))
	s.metrics.apiLatency.WithLabelValues("rules").Observe(elapsed.Seconds())
	if err != nil {
		s.metrics.apiRequests.WithLabelValues("rules", "error").Inc()
		s.internalError(w, r, "listing rules", err)
		return
	}
	s.metrics.apiRequests.WithLabelValues("rules", "success").Inc()
	if list == nil {
		list = []store.Rule{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": list})
}

func (s *Server) handleRuleGet(w http.ResponseWriter, r *http.Request) {
	id, ok := ruleID(w, r)
	if !ok || !s.needStore(w) {
		return
	}
	rule, err := s.deps.Store.GetRule(r.Context(), id)
	if err != nil {
		s.storeError(w, r, "reading rule", err, msgRuleNotFound, "")
		return
	}
	writeJSON(w, http.StatusOK, rule)
}

// ruleInput is the typed content of a rule body; nil pointers are absent
// (or null) members.
type ruleInput struct {
	matchString, trapOID *string
	severity, priority   *int
	matchType            *string
	prod, dev, team      *string
	active               *bool
	present              []string // writable members present, canonical order
	reason               string
}

// parseRule decodes and type-checks the members of a rule body.
func parseRule(o object) (ruleInput, error) {
	var in ruleInput
	var err error
	set := func(e error) {
		if err == nil && e != nil {
			err = e
		}
	}
	var e error
	in.matchString, e = o.str("match_string", true)
	set(e)
	in.trapOID, e = o.str("trap_oid", true)
	set(e)
	in.severity, e = o.integer("syslog_severity", true)
	set(e)
	in.matchType, e = o.str("match_type", false)
	set(e)
	in.priority, e = o.integer("priority", false)
	set(e)
	in.prod, e = o.str("prod_handling", false)
	set(e)
	in.dev, e = o.str("dev_handling", false)
	set(e)
	in.team, e = o.str("team_assignment", false)
	set(e)
	in.active, e = o.boolean("is_active", false)
	set(e)
	in.reason, e = o.reason()
	set(e)
	for _, f := range ruleFields {
		if o.has(f) {
			in.present = append(in.present, f)
		}
	}
	return in, err
}

// blank reports whether a match member is absent, null, or the empty string
// (and not some other JSON value, which the type check rejects later).
func blank(o object, name string) bool {
	if !o.has(name) || o.isNull(name) {
		return true
	}
	p, err := o.str(name, true)
	return err == nil && p != nil && *p == ""
}

func (s *Server) handleRuleCreate(w http.ResponseWriter, r *http.Request) {
	if !s.needStore(w) {
		return
	}
	o, ok := s.decodeObject(w, r, append(store.RuleColumns(), "reason")...)
	if !ok {
		return
	}
	var missing []string
	for _, f := range requiredRuleFields {
		if !o.has(f) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		writeError(w, http.StatusBadRequest, "Missing required fields: "+pyList(missing))
		return
	}
	if blank(o, "match_string") && blank(o, "trap_oid") {
		writeError(w, http.StatusBadRequest, "Either match_string or trap_oid is required")
		return
	}
	in, err := parseRule(o)
	if answerBad(w, err) {
		return
	}
	rule := store.Rule{
		MatchString: in.matchString, TrapOID: in.trapOID, SyslogSeverity: in.severity,
		MatchType: string(rules.Contains), Priority: 100, ProdHandling: *in.prod, DevHandling: *in.dev,
		TeamAssignment: *in.team, IsActive: true,
	}
	if in.matchType != nil {
		rule.MatchType = *in.matchType
	}
	if in.priority != nil {
		rule.Priority = *in.priority
	}
	if in.active != nil {
		rule.IsActive = *in.active
	}
	if answerBad(w, configinput.Rule(rule)) {
		return
	}
	id, err := s.deps.Store.CreateRule(r.Context(), rule, actor(r, in.reason))
	if err != nil {
		s.storeError(w, r, "creating rule", err, msgRuleNotFound, "Rule already exists")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "message": "Rule created successfully"})
}

func (s *Server) handleRuleUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := ruleID(w, r)
	if !ok || !s.needStore(w) {
		return
	}
	existing, err := s.deps.Store.GetRule(r.Context(), id)
	if err != nil {
		s.storeError(w, r, "reading rule", err, msgRuleNotFound, "")
		return
	}
	o, ok := s.decodeObject(w, r, append(store.RuleColumns(), "reason")...)
	if !ok {
		return
	}
	in, err := parseRule(o)
	if answerBad(w, err) {
		return
	}
	if len(in.present) == 0 {
		writeError(w, http.StatusBadRequest, "No fields to update")
		return
	}
	// The rule as it would be after the update must still be valid.
	merged := existing
	fields := make(map[string]any, len(in.present))
	for _, f := range in.present {
		switch f {
		case "match_string":
			merged.MatchString = in.matchString
			fields[f] = in.matchString
		case "trap_oid":
			merged.TrapOID = in.trapOID
			fields[f] = in.trapOID
		case "syslog_severity":
			merged.SyslogSeverity = in.severity
			fields[f] = in.severity
		case "match_type":
			merged.MatchType = *in.matchType
			fields[f] = *in.matchType
		case "priority":
			merged.Priority = *in.priority
			fields[f] = *in.priority
		case "prod_handling":
			merged.ProdHandling = *in.prod
			fields[f] = *in.prod
		case "dev_handling":
			merged.DevHandling = *in.dev
			fields[f] = *in.dev
		case "team_assignment":
			merged.TeamAssignment = *in.team
			fields[f] = *in.team
		case "is_active":
			merged.IsActive = *in.active
			fields[f] = *in.active
		}
	}
	if answerBad(w, configinput.Rule(merged)) {
		return
	}
	if err := s.deps.Store.UpdateRule(r.Context(), id, fields, actor(r, in.reason)); err != nil {
		s.storeError(w, r, "updating rule", err, msgRuleNotFound, "Rule already exists")
		return
	}
	writeJSON(w, http.StatusOK, message{"Rule updated successfully"})
}

func (s *Server) handleRuleDelete(w http.ResponseWriter, r *http.Request) {
	id, ok := ruleID(w, r)
	if !ok || !s.needStore(w) {
		return
	}
	if _, err := s.deps.Store.GetRule(r.Context(), id); err != nil {
		s.storeError(w, r, "reading rule", err, msgRuleNotFound, "")
		return
	}
	reason, ok := s.optionalReason(w, r)
	if !ok {
		return
	}
	if err := s.deps.Store.DeleteRule(r.Context(), id, actor(r, reason)); err != nil {
		s.storeError(w, r, "deleting rule", err, msgRuleNotFound, msgRuleReferenced)
		return
	}
	writeJSON(w, http.StatusOK, message{"Rule deleted successfully"})
}
