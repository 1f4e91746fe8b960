package backup

// SetSelection is a set picked for verification and the components it was
// picked for.
type SetSelection struct {
	Manifest   *Manifest
	Components []string
}

// LatestEach picks, for every component, the newest set of ms (newest
// first, as ListManifests returns them) in which that component is ok and
// has artifacts. A deep verify of these keeps the per-component check of
// `mutt backup status --monthly` passing even when the newest set holds
// only some components (a weekly vault set, an hourly pgconfig set). Each
// set appears once, newest first, with the components it is newest for.
func LatestEach(ms []*Manifest) []SetSelection {
	var out []SetSelection
	seen := map[string]bool{}
	for _, m := range ms {
		var picked []string
		for _, c := range m.Components {
			if seen[c.Name] || c.Status != StatusOK || len(c.Artifacts) == 0 {
				continue
			}
			seen[c.Name] = true
			picked = append(picked, c.Name)
		}
		if len(picked) > 0 {
			out = append(out, SetSelection{Manifest: m, Components: picked})
		}
	}
	return out
}
