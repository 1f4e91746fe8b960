package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// confirm asks "<question> [y/N]" on the terminal before a destructive
// action, unless yes (--yes) was given. Without a terminal nobody can
// answer, so the action is refused as a usage error naming verb; an answer
// other than y or yes refuses it too. Nothing has changed in either case.
func confirm(cmd *cobra.Command, g *globalOptions, yes bool, verb, question string) error {
	if yes {
		return nil
	}
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		return usageError{fmt.Errorf("not going to %s: standard input is not a terminal, so nobody can confirm; add --yes to go ahead", verb)}
	}
	if !askYes(in, g.stderr, question) {
		return errors.New("nothing changed: not confirmed")
	}
	return nil
}

// askYes writes question and reads one line; only y or yes (any case) is a
// yes.
func askYes(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprintf(out, "%s [y/N] ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}
