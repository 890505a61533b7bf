package main

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadState: a damaged state file is an error or a state with no negative
// offsets; never a panic.
func FuzzLoadState(f *testing.F) {
	f.Add([]byte(`{"version":1,"files":[{"path":"a.log","type":"a","offset":12}]}`))
	f.Add([]byte(`{"version":1,"files":[{"path":"a.log","type":"a","offset":-1}]}`))
	f.Add([]byte(`{"version":1,"files":[{"path":"a.log","offset":9223372036854775807}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "state")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := loadState(path)
		if err != nil {
			return
		}
		for _, f := range st.Files {
			if f.Offset < 0 {
				t.Fatalf("negative offset %d accepted", f.Offset)
			}
		}
	})
}
