package ui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/mutt-go/mutt/internal/configinput"
	"github.com/mutt-go/mutt/internal/store"
)

// teamsView is the device teams page's data.
type teamsView struct {
	Teams  []store.Team
	Form   store.Team        // the add form's values after an error
	Errors map[string]string // next to the add form's fields
}

func (u *UI) teams(w http.ResponseWriter, r *http.Request, s *session) {
	u.showTeams(w, r, s, http.StatusOK, teamsView{})
}

func (u *UI) showTeams(w http.ResponseWriter, r *http.Request, s *session, status int, v teamsView) {
	if !u.needStore(w, r, s) {
		return
	}
	list, err := u.deps.Store.ListTeams(r.Context())
	if err != nil {
		u.failed(w, r, s, "listing device teams", err)
		return
	}
	v.Teams = list
	u.show(w, r, s, status, "teams", "teams", "Device teams", v)
}

// readTeam reads and checks a team form: the dashboard's own words for
// empty fields, else the API's checks, each next to its field.
func readTeam(r *http.Request) (store.Team, map[string]string) {
	t := store.Team{Hostname: strings.TrimSpace(r.PostFormValue("hostname")),
		TeamAssignment: strings.TrimSpace(r.PostFormValue("team_assignment"))}
	errs := fieldErrors(configinput.Team(t))
	if msg := checkHostname(t.Hostname); msg != "" {
		errs["hostname"] = msg
	}
	if t.TeamAssignment == "" {
		errs["team_assignment"] = "Enter a team."
	}
	return t, errs
}

// fieldErrors maps each refused field to its first message.
func fieldErrors(err error) map[string]string {
	errs := map[string]string{}
	for _, fe := range configinput.Fields(err) {
		if _, seen := errs[fe.Field]; !seen {
			errs[fe.Field] = fe.Message
		}
	}
	return errs
}

func (u *UI) teamAdd(w http.ResponseWriter, r *http.Request, s *session) {
	t, errs := readTeam(r)
	if len(errs) > 0 {
		u.showTeams(w, r, s, http.StatusUnprocessableEntity, teamsView{Form: t, Errors: errs})
		return
	}
	if !u.needStore(w, r, s) {
		return
	}
	err := u.deps.Store.AddTeam(r.Context(), t, u.actor(r, s))
	if errors.Is(err, store.ErrConflict) {
		u.showTeams(w, r, s, http.StatusConflict, teamsView{Form: t,
			Errors: map[string]string{"hostname": t.Hostname + " already has a team; change it in the list."}})
		return
	}
	if err != nil {
		u.failed(w, r, s, "adding the device team", err)
		return
	}
	u.redirect(w, r, "/teams", flash{Text: t.Hostname + " now belongs to " + t.TeamAssignment + "."})
}

func (u *UI) teamUpdate(w http.ResponseWriter, r *http.Request, s *session) {
	t, errs := readTeam(r)
	if len(errs) > 0 {
		msg := errs["team_assignment"]
		if msg == "" {
			msg = errs["hostname"]
		}
		u.redirect(w, r, "/teams", flash{Text: t.Hostname + ": " + msg, Error: true})
		return
	}
	if !u.needStore(w, r, s) {
		return
	}
	err := u.deps.Store.UpdateTeam(r.Context(), t, u.actor(r, s))
	if errors.Is(err, store.ErrNotFound) {
		u.redirect(w, r, "/teams", flash{Text: t.Hostname + " has no team any more.", Error: true})
		return
	}
	if err != nil {
		u.failed(w, r, s, "changing the device team", err)
		return
	}
	u.redirect(w, r, "/teams", flash{Text: t.Hostname + " now belongs to " + t.TeamAssignment + "."})
}

func (u *UI) teamDelete(w http.ResponseWriter, r *http.Request, s *session) {
	host := r.PostFormValue("hostname")
	if !u.needStore(w, r, s) {
		return
	}
	err := u.deps.Store.DeleteTeam(r.Context(), host, u.actor(r, s))
	if errors.Is(err, store.ErrNotFound) {
		u.redirect(w, r, "/teams", flash{Text: host + " had no team.", Error: true})
		return
	}
	if err != nil {
		u.failed(w, r, s, "removing the device team", err)
		return
	}
	u.redirect(w, r, "/teams", flash{Text: host + " no longer has a device team."})
}
