//go:build !linux

package blob

import (
	"errors"
	"os"
)

// openAnon: unnamed files are Linux's (see anon_linux.go); elsewhere the
// store uses named temporary files.
func openAnon(dir string) (*os.File, error) { return nil, errors.ErrUnsupported }

func linkAnon(f *os.File, dst string) error { return errors.ErrUnsupported }
