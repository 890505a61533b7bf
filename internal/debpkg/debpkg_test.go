package debpkg_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blueox/ox/internal/debpkg"
)

// arMember is one member of an ar archive, read back.
type arMember struct {
	name, mtime, uid, gid, mode string
	data                        []byte
}

// readAr parses the common ar format, failing on anything malformed.
func readAr(t *testing.T, b []byte) []arMember {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("!<arch>\n")) {
		t.Fatalf("no ar magic: %q", b[:min(len(b), 8)])
	}
	b = b[8:]
	var out []arMember
	for len(b) > 0 {
		if len(b) < 60 || string(b[58:60]) != "`\n" {
			t.Fatalf("bad ar header %q", b[:min(len(b), 60)])
		}
		h := string(b[:60])
		size, err := strconv.Atoi(strings.TrimSpace(h[48:58]))
		if err != nil || size > len(b)-60 {
			t.Fatalf("bad member size in %q", h)
		}
		out = append(out, arMember{
			name: strings.TrimSpace(h[0:16]), mtime: strings.TrimSpace(h[16:28]),
			uid: strings.TrimSpace(h[28:34]), gid: strings.TrimSpace(h[34:40]),
			mode: strings.TrimSpace(h[40:48]), data: b[60 : 60+size],
		})
		b = b[60+size:]
		if size%2 == 1 {
			if len(b) == 0 || b[0] != '\n' {
				t.Fatalf("member %s: odd size without padding", out[len(out)-1].name)
			}
			b = b[1:]
		}
	}
	return out
}

type tarEntry struct {
	hdr  *tar.Header
	body string
}

// readTarGz checks the gzip header carries no name and no time, and returns
// the entries in archive order.
func readTarGz(t *testing.T, b []byte) []tarEntry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Fatalf("gzip header has name %q, time %v: want neither", zr.Name, zr.ModTime)
	}
	tr := tar.NewReader(zr)
	var out []tarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		out = append(out, tarEntry{h, string(body)})
	}
}

func samplePackage() *debpkg.Package {
	return &debpkg.Package{
		Control: "Package: demo\nVersion: 1.0-1\nArchitecture: amd64\nInstalled-Size: @INSTALLED_SIZE@\n",
		Scripts: map[string][]byte{"postinst": []byte("#!/bin/sh\nexit 0\n"), "prerm": []byte("#!/bin/sh\n")},
		Files: []debpkg.File{
			{Name: "usr/bin/demo", Mode: 0o755, Body: bytes.Repeat([]byte("x"), 2049)},
			{Name: "etc/default/demo", Mode: 0o644, Body: []byte("ARGS=\n"), Conffile: true},
			{Name: "usr/share/doc/demo/copyright", Mode: 0o644, Body: []byte("c\n")},
			{Name: "usr/bin/demo-alias", Mode: fs.ModeSymlink | 0o777, Link: "demo"},
		},
		ModTime: time.Date(2026, 12, 1, 22, 57, 12, 0, time.UTC),
	}
}

func TestWriteLayout(t *testing.T) {
	var buf bytes.Buffer
	if err := samplePackage().Write(&buf); err != nil {
		t.Fatal(err)
	}
	members := readAr(t, buf.Bytes())
	var names []string
	for _, m := range members {
		names = append(names, m.name)
		if m.mtime != "1796165832" || m.uid != "0" || m.gid != "0" || m.mode != "100644" {
			t.Errorf("member %s: mtime %s uid %s gid %s mode %s", m.name, m.mtime, m.uid, m.gid, m.mode)
		}
	}
	if got := strings.Join(names, " "); got != "debian-binary control.tar.gz data.tar.gz" {
		t.Fatalf("members %q, want dpkg's order", got)
	}
	if string(members[0].data) != "2.0\n" {
		t.Fatalf("debian-binary %q", members[0].data)
	}

	data := readTarGz(t, members[2].data)
	var paths []string
	for _, e := range data {
		paths = append(paths, e.hdr.Name)
		if e.hdr.Uid != 0 || e.hdr.Gid != 0 || e.hdr.Uname != "root" || e.hdr.Gname != "root" {
			t.Errorf("%s owned by %s:%s (%d:%d), want root:root", e.hdr.Name, e.hdr.Uname, e.hdr.Gname, e.hdr.Uid, e.hdr.Gid)
		}
		if !e.hdr.ModTime.Equal(time.Unix(1796165832, 0)) {
			t.Errorf("%s mtime %v", e.hdr.Name, e.hdr.ModTime)
		}
	}
	want := "./ ./etc/ ./etc/default/ ./etc/default/demo ./usr/ ./usr/bin/ ./usr/bin/demo ./usr/bin/demo-alias " +
		"./usr/share/ ./usr/share/doc/ ./usr/share/doc/demo/ ./usr/share/doc/demo/copyright"
	if got := strings.Join(paths, " "); got != want {
		t.Fatalf("data entries\n got %s\nwant %s", got, want)
	}

	control := map[string]tarEntry{}
	var cnames []string
	for _, e := range readTarGz(t, members[1].data) {
		control[e.hdr.Name] = e
		cnames = append(cnames, e.hdr.Name)
	}
	if got := strings.Join(cnames, " "); got != "./ ./conffiles ./control ./md5sums ./postinst ./prerm" {
		t.Fatalf("control entries %q", got)
	}
	if c := control["./conffiles"].body; c != "/etc/default/demo\n" {
		t.Errorf("conffiles %q", c)
	}
	if m := control["./md5sums"].body; strings.Contains(m, "etc/default/demo") || !strings.Contains(m, "  usr/bin/demo\n") {
		t.Errorf("md5sums must list usr/bin/demo and no conffile:\n%s", m)
	}
	// 3 KiB + 1 KiB + 1 KiB for files, 1 per folder (8 with the root).
	if c := control["./control"].body; !strings.Contains(c, "Installed-Size: 13\n") {
		t.Errorf("control:\n%s", c)
	}
	if m := control["./postinst"].hdr.Mode; m != 0o755 {
		t.Errorf("postinst mode %o", m)
	}
}

func TestWriteIsReproducible(t *testing.T) {
	var a, b bytes.Buffer
	if err := samplePackage().Write(&a); err != nil {
		t.Fatal(err)
	}
	p := samplePackage()
	// The same files given in another order give the same bytes.
	p.Files[0], p.Files[3] = p.Files[3], p.Files[0]
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two writes of the same package differ")
	}
}

func TestWriteRejectsBadFiles(t *testing.T) {
	tests := []struct {
		name string
		file debpkg.File
	}{
		{"absolute path", debpkg.File{Name: "/usr/bin/x", Mode: 0o755}},
		{"parent reference", debpkg.File{Name: "../x", Mode: 0o644}},
		{"unclean path", debpkg.File{Name: "usr//bin/x", Mode: 0o644}},
		{"empty name", debpkg.File{Name: "", Mode: 0o644}},
		{"conffile outside etc", debpkg.File{Name: "usr/x", Mode: 0o644, Conffile: true}},
		{"device", debpkg.File{Name: "dev/x", Mode: fs.ModeDevice | 0o644}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &debpkg.Package{Control: "Package: x\n", Files: []debpkg.File{tc.file}}
			if err := p.Write(io.Discard); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	dup := &debpkg.Package{Files: []debpkg.File{{Name: "a", Mode: 0o644}, {Name: "a", Mode: 0o644}}}
	if err := dup.Write(io.Discard); err == nil {
		t.Fatal("a file given twice was accepted")
	}
}

func TestGzipLikeGzip9n(t *testing.T) {
	b, err := debpkg.Gzip([]byte("changelog\n"))
	if err != nil {
		t.Fatal(err)
	}
	// magic, deflate, no flags, mtime 0, XFL 2 (best compression), OS 3 (Unix).
	if want := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3}; !bytes.Equal(b[:10], want) {
		t.Fatalf("header % x, want % x", b[:10], want)
	}
}
