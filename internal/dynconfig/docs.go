package dynconfig

import (
	"strings"
)

// MarkdownTable renders the registry as the Markdown table of
// docs/operations/dynamic-config.md: one row per key, in registry order.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Name | Kind | Allowed values | Default | Read by | Description |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, k := range Keys() {
		bounds := k.Bounds()
		if k.AtMost != "" {
			bounds += "; at most `" + k.AtMost + "`"
		}
		doc := k.Doc
		if k.Reserved {
			doc = "**Reserved.** " + doc
		}
		cells := []string{"`" + k.Name + "`", string(k.Kind), bounds, "`" + k.Default + "`",
			strings.Join(k.Roles, ", "), doc}
		for i, c := range cells {
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}
