package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// viewFiles prints the events of each log file in turn, as oxstash reads its
// FILE arguments ("-" is stdin). Like cat, a file that cannot be opened or is
// damaged is reported on stderr (its events before the damage printed) and
// the next one is read; the result is then an error (exit status 1) that says
// how many files failed. A failed write of the output stops at once.
func viewFiles(p *printer, names []string, stdin io.Reader, out *bufio.Writer, stderr io.Writer) error {
	failed := 0
	for _, name := range names {
		err := viewFile(p, name, stdin, out)
		if err == nil {
			continue
		}
		var we writeError
		if errors.As(err, &we) || isBrokenPipe(err) {
			return err
		}
		failed++
		if ferr := out.Flush(); ferr != nil {
			return writeError{ferr}
		}
		fmt.Fprintf(stderr, "oxview: %v\n", err)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files could not be read to their end", failed, len(names))
	}
	return nil
}

func viewFile(p *printer, name string, stdin io.Reader, out *bufio.Writer) error {
	if name == "-" {
		return viewStream(p, "stdin", stdin, out)
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return viewStream(p, name, f, out)
}
