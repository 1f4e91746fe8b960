package web

import (
	"context"
	"net/http"

	"github.com/mutt-go/mutt/internal/configinput"
	"github.com/mutt-go/mutt/internal/store"
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

// hostStrings starts a development host or device team write: it needs the
// store, then reads a body of the named string members (absent or null
// read as "") and "reason", type-checking them in that order. It answers
// the request itself and returns ok=false when any of that fails.
func (s *Server) hostStrings(w http.ResponseWriter, r *http.Request, names ...string) (vals []string, reason string, ok bool) {
	if !s.needStore(w) {
		return nil, "", false
	}
	o, ok := s.decodeObject(w, r, append(names, "reason")...)
	if !ok {
		return nil, "", false
	}
	vals = make([]string, len(names))
	for i, name := range names {
		p, err := o.str(name, true)
		if answerBad(w, err) {
			return nil, "", false
		}
		if p != nil {
			vals[i] = *p
		}
	}
	reason, err := o.reason()
	if answerBad(w, err) {
		return nil, "", false
	}
	return vals, reason, true
}

// hostChanged answers the outcome of a development host or device team
// write: the store's error mapped (conflict answering 409 with its text),
// else status with the success message.
func (s *Server) hostChanged(w http.ResponseWriter, r *http.Request, what string, err error, conflict string, status int, done string) {
	if err != nil {
		s.storeError(w, r, what, err, msgHostNotFound, conflict)
		return
	}
	writeJSON(w, status, message{done})
}

// deleteHostRow removes the development host or device team of
// {hostname} through del.
func (s *Server) deleteHostRow(w http.ResponseWriter, r *http.Request, what, done string,
	del func(store.Interface, context.Context, string, store.Actor) error) {
	if !s.needStore(w) {
		return
	}
	reason, ok := s.optionalReason(w, r)
	if !ok {
		return
	}
	err := del(s.deps.Store, r.Context(), r.PathValue("hostname"), actor(r, reason))
	s.hostChanged(w, r, what, err, "", http.StatusOK, done)
}

func (s *Server) handleDevHostAdd(w http.ResponseWriter, r *http.Request) {
	v, reason, ok := s.hostStrings(w, r, "hostname")
	if !ok {
		return
	}
	host := v[0]
	if host == "" {
		writeError(w, http.StatusBadRequest, "hostname is required")
		return
	}
	if answerBad(w, configinput.Hostname(host)) {
		return
	}
	err := s.deps.Store.AddDevHost(r.Context(), host, actor(r, reason))
	s.hostChanged(w, r, "adding development host", err, "Hostname already exists", http.StatusCreated, "Dev host added successfully")
}

func (s *Server) handleDevHostDelete(w http.ResponseWriter, r *http.Request) {
	s.deleteHostRow(w, r, "deleting development host", "Dev host deleted successfully", store.Interface.DeleteDevHost)
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

func (s *Server) handleTeamAdd(w http.ResponseWriter, r *http.Request) {
	v, reason, ok := s.hostStrings(w, r, "hostname", "team_assignment")
	if !ok {
		return
	}
	t := store.Team{Hostname: v[0], TeamAssignment: v[1]}
	if t.Hostname == "" || t.TeamAssignment == "" {
		writeError(w, http.StatusBadRequest, "hostname and team_assignment are required")
		return
	}
	if answerBad(w, configinput.Team(t)) {
		return
	}
	err := s.deps.Store.AddTeam(r.Context(), t, actor(r, reason))
	s.hostChanged(w, r, "adding device team", err, "Hostname already has a team assignment", http.StatusCreated, "Team mapping added successfully")
}

func (s *Server) handleTeamUpdate(w http.ResponseWriter, r *http.Request) {
	v, reason, ok := s.hostStrings(w, r, "team_assignment")
	if !ok {
		return
	}
	t := store.Team{Hostname: r.PathValue("hostname"), TeamAssignment: v[0]}
	if t.TeamAssignment == "" {
		writeError(w, http.StatusBadRequest, "team_assignment is required")
		return
	}
	if answerBad(w, configinput.Team(t)) {
		return
	}
	err := s.deps.Store.UpdateTeam(r.Context(), t, actor(r, reason))
	s.hostChanged(w, r, "updating device team", err, "", http.StatusOK, "Team mapping updated successfully")
}

func (s *Server) handleTeamDelete(w http.ResponseWriter, r *http.Request) {
	s.deleteHostRow(w, r, "deleting device team", "Team mapping deleted successfully", store.Interface.DeleteTeam)
}
