package web

import (
	"net/http"
	"unicode/utf8"

	"github.com/mutt-go/mutt/internal/store"
)

// Column limits of development_hosts and device_teams.
const (
	maxHostnameLen = 255
	maxTeamLen     = 100
)

type hostItem struct {
	Hostname string `json:"hostname"`
}

func (s *Server) handleDevHostsList(w http.ResponseWriter, r *http.Request) {
	if !s.needStore(w) {
		return
	}
	hosts, err := s.deps.Store.ListDevHosts(r.Context())
	if err != nil {
		s.internalError(w, r, "listing development hosts", err)
		return
	}
	items := make([]hostItem, len(hosts))
	for i, h := range hosts {
		items[i] = hostItem{Hostname: h}
	}
	writeJSON(w, http.StatusOK, map[string]any{"hosts": items})
}

func (s *Server) handleDevHostAdd(w http.ResponseWriter, r *http.Request) {
	if !s.needStore(w) {
		return
	}
	o, ok := s.decodeObject(w, r, "hostname", "reason")
	if !ok {
		return
	}
	host, err := o.str("hostname", true)
	if answerBad(w, err) {
		return
	}
	reason, err := o.reason()
	if answerBad(w, err) {
		return
	}
	if host == nil || *host == "" {
		writeError(w, http.StatusBadRequest, "hostname is required")
		return
	}
	if utf8.RuneCountInString(*host) > maxHostnameLen {
		writeError(w, http.StatusBadRequest, "hostname must be at most 255 characters")
		return
	}
	if err := s.deps.Store.AddDevHost(r.Context(), *host, actor(r, reason)); err != nil {
		s.storeError(w, r, "adding development host", err, msgHostNotFound, "Hostname already exists")
		return
	}
	writeJSON(w, http.StatusCreated, message{"Dev host added successfully"})
}

func (s *Server) handleDevHostDelete(w http.ResponseWriter, r *http.Request) {
	if !s.needStore(w) {
		return
	}
	o, ok := s.decodeOptionalObject(w, r, "reason")
	if !ok {
		return
	}
	reason, err := o.reason()
	if answerBad(w, err) {
		return
	}
	if err := s.deps.Store.DeleteDevHost(r.Context(), r.PathValue("hostname"), actor(r, reason)); err != nil {
		s.storeError(w, r, "deleting development host", err, msgHostNotFound, "")
		return
	}
	writeJSON(w, http.StatusOK, message{"Dev host deleted successfully"})
}

func (s *Server) handleTeamsList(w http.ResponseWriter, r *http.Request) {
	if !s.needStore(w) {
		return
	}
	teams, err := s.deps.Store.ListTeams(r.Context())
	if err != nil {
		s.internalError(w, r, "listing device teams", err)
		return
	}
	if teams == nil {
		teams = []store.Team{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"teams": teams})
}

// checkTeam validates the lengths of a mapping.
func checkTeam(host, team string) error {
	if utf8.RuneCountInString(host) > maxHostnameLen {
		return badf("hostname must be at most 255 characters")
	}
	if utf8.RuneCountInString(team) > maxTeamLen {
		return badf("team_assignment must be at most 100 characters")
	}
	return nil
}

func (s *Server) handleTeamAdd(w http.ResponseWriter, r *http.Request) {
	if !s.needStore(w) {
		return
	}
	o, ok := s.decodeObject(w, r, "hostname", "team_assignment", "reason")
	if !ok {
		return
	}
	host, err := o.str("hostname", true)
	if answerBad(w, err) {
		return
	}
	team, err := o.str("team_assignment", true)
	if answerBad(w, err) {
		return
	}
	reason, err := o.reason()
	if answerBad(w, err) {
		return
	}
	if host == nil || *host == "" || team == nil || *team == "" {
		writeError(w, http.StatusBadRequest, "hostname and team_assignment are required")
		return
	}
	if answerBad(w, checkTeam(*host, *team)) {
		return
	}
	err = s.deps.Store.AddTeam(r.Context(), store.Team{Hostname: *host, TeamAssignment: *team}, actor(r, reason))
	if err != nil {
		s.storeError(w, r, "adding device team", err, msgHostNotFound, "Hostname already has a team assignment")
		return
	}
	writeJSON(w, http.StatusCreated, message{"Team mapping added successfully"})
}

func (s *Server) handleTeamUpdate(w http.ResponseWriter, r *http.Request) {
	if !s.needStore(w) {
		return
	}
	o, ok := s.decodeObject(w, r, "team_assignment", "reason")
	if !ok {
		return
	}
	team, err := o.str("team_assignment", true)
	if answerBad(w, err) {
		return
	}
	reason, err := o.reason()
	if answerBad(w, err) {
		return
	}
	if team == nil || *team == "" {
		writeError(w, http.StatusBadRequest, "team_assignment is required")
		return
	}
	host := r.PathValue("hostname")
	if answerBad(w, checkTeam(host, *team)) {
		return
	}
	err = s.deps.Store.UpdateTeam(r.Context(), store.Team{Hostname: host, TeamAssignment: *team}, actor(r, reason))
	if err != nil {
		s.storeError(w, r, "updating device team", err, msgHostNotFound, "")
		return
	}
	writeJSON(w, http.StatusOK, message{"Team mapping updated successfully"})
}

func (s *Server) handleTeamDelete(w http.ResponseWriter, r *http.Request) {
	if !s.needStore(w) {
		return
	}
	o, ok := s.decodeOptionalObject(w, r, "reason")
	if !ok {
		return
	}
	reason, err := o.reason()
	if answerBad(w, err) {
		return
	}
	if err := s.deps.Store.DeleteTeam(r.Context(), r.PathValue("hostname"), actor(r, reason)); err != nil {
		s.storeError(w, r, "deleting device team", err, msgHostNotFound, "")
		return
	}
	writeJSON(w, http.StatusOK, message{"Team mapping deleted successfully"})
}
