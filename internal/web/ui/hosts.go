package ui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/mutt-go/mutt/internal/configinput"
	"github.com/mutt-go/mutt/internal/store"
)

// hostsView is the development hosts page's data.
type hostsView struct {
	Hosts    []string
	Hostname string // the add form's value after an error
	Error    string // next to the add form's hostname
}

func (u *UI) devHosts(w http.ResponseWriter, r *http.Request, s *session) {
	u.showHosts(w, r, s, http.StatusOK, hostsView{})
}

func (u *UI) showHosts(w http.ResponseWriter, r *http.Request, s *session, status int, v hostsView) {
	if !u.needStore(w, r, s) {
		return
	}
	hosts, err := u.deps.Store.ListDevHosts(r.Context())
	if err != nil {
		u.failed(w, r, s, "listing development hosts", err)
		return
	}
	v.Hosts = hosts
	u.show(w, r, s, status, "dev_hosts", "dev-hosts", "Development hosts", v)
}

// checkHostname says what is wrong with a hostname typed into a form: the
// dashboard's own words for an empty one, else the API's check.
func checkHostname(h string) string {
	if h == "" {
		return "Enter a hostname."
	}
	if err := configinput.Hostname(h); err != nil {
		return err.Error()
	}
	return ""
}

func (u *UI) devHostAdd(w http.ResponseWriter, r *http.Request, s *session) {
	host := strings.TrimSpace(r.PostFormValue("hostname"))
	if msg := checkHostname(host); msg != "" {
		u.showHosts(w, r, s, http.StatusUnprocessableEntity, hostsView{Hostname: host, Error: msg})
		return
	}
	if !u.needStore(w, r, s) {
		return
	}
	err := u.deps.Store.AddDevHost(r.Context(), host, u.actor(r, s))
	if errors.Is(err, store.ErrConflict) {
		u.showHosts(w, r, s, http.StatusConflict, hostsView{Hostname: host, Error: host + " is already a development host."})
		return
	}
	if err != nil {
		u.failed(w, r, s, "adding the development host", err)
		return
	}
	u.redirect(w, r, "/dev-hosts", flash{Text: host + " is now a development host."})
}

func (u *UI) devHostDelete(w http.ResponseWriter, r *http.Request, s *session) {
	host := r.PostFormValue("hostname")
	if !u.needStore(w, r, s) {
		return
	}
	err := u.deps.Store.DeleteDevHost(r.Context(), host, u.actor(r, s))
	if errors.Is(err, store.ErrNotFound) {
		u.redirect(w, r, "/dev-hosts", flash{Text: host + " was not a development host.", Error: true})
		return
	}
	if err != nil {
		u.failed(w, r, s, "removing the development host", err)
		return
	}
	u.redirect(w, r, "/dev-hosts", flash{Text: host + " is no longer a development host."})
}
