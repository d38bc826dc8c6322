//go:build !linux

package main

import (
	"errors"
	"os"

	"github.com/mattn/go-isatty"
)

func isTerminal(f *os.File) bool { return isatty.IsTerminal(f.Fd()) }

// readHidden is not implemented here: rather than echo a secret, ask for it on stdin.
func readHidden(*os.File) (string, error) {
	return "", errors.New("cannot hide terminal input on this system; pipe the secret on stdin instead")
}
