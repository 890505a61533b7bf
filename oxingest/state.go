package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// stateFile is what --state-file holds: how far each followed file was delivered.
type stateFile struct {
	Version int         `json:"version"`
	Files   []savedFile `json:"files"`
}

// savedFile is one file's place. Path is the -F path it was followed as; the file
// itself is recognised by its identity, whatever it is called now.
type savedFile struct {
	Path string `json:"path"`
	Type string `json:"type"`
	identity
	Offset int64 `json:"offset"`
}

func loadState(path string) (*stateFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &stateFile{Version: 1}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("state file %s: %w (move it away to start afresh)", path, err)
	}
	if st.Version != 1 {
		return nil, fmt.Errorf("state file %s: unknown version %d", path, st.Version)
	}
	for _, f := range st.Files {
		if f.Offset < 0 {
			return nil, fmt.Errorf("state file %s: negative offset %d for %s (move it away to start afresh)", path, f.Offset, f.Path)
		}
	}
	return &st, nil
}

// save replaces the state file atomically: a crash leaves the old or the new one.
func (st *stateFile) save(path string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}
