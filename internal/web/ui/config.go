package ui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/mutt-go/mutt/internal/configadmin"
	"github.com/mutt-go/mutt/internal/dynconfig"
)

// configView is the dynamic config page's data.
type configView struct {
	Entries []configadmin.Entry
	Unset   []dynconfig.Key // declared keys with no stored value
}

func (u *UI) configList(w http.ResponseWriter, r *http.Request, s *session) {
	if u.deps.Config == nil {
		u.errorPage(w, r, s, http.StatusServiceUnavailable, "Dynamic configuration is not available.")
		return
	}
	entries, err := u.deps.Config.List(r.Context())
	if err != nil {
		u.failed(w, r, s, "listing the dynamic configuration", err)
		return
	}
	v := configView{Entries: entries}
	set := map[string]bool{}
	for _, e := range entries {
		set[e.Name] = true
	}
	for _, k := range dynconfig.Keys() {
		if !set[k.Name] {
			v.Unset = append(v.Unset, k)
		}
	}
	u.show(w, r, s, http.StatusOK, "config", "config", "Dynamic config", v)
}

// configForm is the edit form of one key.
type configForm struct {
	Name, Value, Current, Reason string
	IsSet, Known                 bool
	Key                          dynconfig.Key
	Errors                       map[string]string
}

func (u *UI) configEdit(w http.ResponseWriter, r *http.Request, s *session) {
	if u.deps.Config == nil {
		u.errorPage(w, r, s, http.StatusServiceUnavailable, "Dynamic configuration is not available.")
		return
	}
	f := configForm{Name: strings.TrimSpace(r.URL.Query().Get("key")), Errors: map[string]string{}}
	if f.Name != "" {
		cur, found, err := u.deps.Config.Get(r.Context(), f.Name)
		if err != nil {
			u.failed(w, r, s, "reading the dynamic configuration", err)
			return
		}
		f.Current, f.IsSet, f.Value = cur, found, cur
		f.Key, f.Known = dynconfig.Lookup(f.Name)
		if !found && f.Known {
			f.Value = f.Key.Default
		}
	}
	u.show(w, r, s, http.StatusOK, "config_form", "config", "Edit dynamic config", f)
}

func (u *UI) configSet(w http.ResponseWriter, r *http.Request, s *session) {
	if u.deps.Config == nil {
		u.errorPage(w, r, s, http.StatusServiceUnavailable, "Dynamic configuration is not available.")
		return
	}
	f := configForm{Name: strings.TrimSpace(r.PostFormValue("key")), Value: strings.TrimSpace(r.PostFormValue("value")),
		Reason: r.PostFormValue("reason"), Errors: map[string]string{}}
	f.Key, f.Known = dynconfig.Lookup(f.Name)
	if f.Name == "" {
		f.Errors["key"] = "Enter the key's name."
	}
	if f.Value == "" {
		f.Errors["value"] = "Enter a value."
	}
	if len(f.Errors) == 0 {
		c, err := u.deps.Config.Set(r.Context(), f.Name, f.Value, u.actor(r, s))
		if err == nil {
			msg := f.Name + " set to " + c.New + "."
			if c.Old != nil {
				msg = f.Name + " changed from " + *c.Old + " to " + c.New + "."
			}
			u.redirect(w, r, "/config", flash{Text: msg})
			return
		}
		if !errors.Is(err, configadmin.ErrInvalidValue) {
			u.failed(w, r, s, "setting the dynamic configuration", err)
			return
		}
		f.Errors["value"] = err.Error()
	}
	if cur, found, err := u.deps.Config.Get(r.Context(), f.Name); err == nil && f.Name != "" {
		f.Current, f.IsSet = cur, found
	}
	u.show(w, r, s, http.StatusUnprocessableEntity, "config_form", "config", "Edit dynamic config", f)
}
