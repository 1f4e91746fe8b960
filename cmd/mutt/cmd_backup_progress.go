package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// componentBar shows, on a terminal, how many bytes of the component being
// backed up have been read, and clears itself before the component's result
// line is printed. A nil *componentBar draws nothing.
type componentBar struct {
	out       *os.File
	component string
	bar       *progressbar.ProgressBar
}

// newComponentBar returns a bar drawing on standard error, or nil when
// standard error is not a terminal.
func newComponentBar(g *globalOptions) *componentBar {
	f, ok := g.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &componentBar{out: f}
}

// update moves the bar of component to read bytes, starting a new bar when
// the component changes.
func (c *componentBar) update(component string, read int64) {
	if c.bar == nil || c.component != component {
		c.clear()
		c.component = component
		c.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(c.out),
			progressbar.OptionSetDescription(component),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	_ = c.bar.Set64(read)
}

// clear removes the bar from the terminal.
func (c *componentBar) clear() {
	if c != nil && c.bar != nil {
		_ = c.bar.Finish()
		c.bar = nil
	}
}

// lines returns w wrapped so that every write first clears the bar.
func (c *componentBar) lines(w io.Writer) io.Writer {
	if c == nil {
		return w
	}
	return clearingWriter{c: c, w: w}
}

type clearingWriter struct {
	c *componentBar
	w io.Writer
}

func (cw clearingWriter) Write(p []byte) (int, error) {
	cw.c.clear()
	return cw.w.Write(p)
}
