// Package debpkg writes Debian binary packages (.deb) with the standard library
// alone, reproducibly: the same files and time give the same bytes.
//
// A .deb is an ar archive of three members: "debian-binary" ("2.0\n"),
// "control.tar.gz" (the control file, md5sums, conffiles and maintainer scripts)
// and "data.tar.gz" (the files to install). Package.Write lays them out as
// dpkg-deb does, with what makes the result depend on nothing but its input:
// entries sorted by name with their parent folders, owner root:root (0/0), one
// modification time for everything (SOURCE_DATE_EPOCH, usually the commit's
// time), and gzip headers without a name or a time.
package debpkg

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// File is one file, folder or symbolic link of a package.
type File struct {
	// Name is the path where it is installed, without the leading slash:
	// "usr/bin/oxd".
	Name string
	// Mode is the permission bits, with fs.ModeDir for a folder and
	// fs.ModeSymlink for a link.
	Mode fs.FileMode
	// Body is a regular file's content.
	Body []byte
	// Link is a symbolic link's target.
	Link string
	// Conffile marks a file under etc/ that dpkg keeps when the administrator
	// changed it, on upgrade and on remove (until purge).
	Conffile bool
}

// Package is what a .deb holds.
type Package struct {
	// Control is the control file. A line "Installed-Size: @INSTALLED_SIZE@"
	// gets the size in KiB Write computes.
	Control string
	// Scripts are the maintainer scripts by name (preinst, postinst, prerm,
	// postrm), installed with mode 0755.
	Scripts map[string][]byte
	// Files are the files to install; their parent folders are added.
	Files []File
	// ModTime is every entry's modification time (SOURCE_DATE_EPOCH).
	ModTime time.Time
}

// Write writes the package as a .deb to w.
func (p *Package) Write(w io.Writer) error {
	files, err := withParents(p.Files)
	if err != nil {
		return err
	}
	data, err := tarGz(files, p.ModTime)
	if err != nil {
		return fmt.Errorf("debpkg: data.tar.gz: %w", err)
	}
	control, err := tarGz(p.controlFiles(files), p.ModTime)
	if err != nil {
		return fmt.Errorf("debpkg: control.tar.gz: %w", err)
	}
	aw := &arWriter{w: w, mtime: p.ModTime.Unix()}
	aw.header()
	aw.member("debian-binary", []byte("2.0\n"))
	aw.member("control.tar.gz", control)
	aw.member("data.tar.gz", data)
	return aw.err
}

// controlFiles returns the members of control.tar.gz: control, md5sums of every
// regular file that is not a conffile (dpkg checks conffiles its own way),
// conffiles, and the scripts.
func (p *Package) controlFiles(files []File) []File {
	var sums, conffiles strings.Builder
	size := int64(0)
	for _, f := range files {
		size += (int64(len(f.Body)) + 1023) / 1024 // dpkg-gencontrol's count: KiB per file, rounded up
		if f.Mode.IsDir() {
			size++
		}
		if !f.Mode.IsRegular() {
			continue
		}
		if f.Conffile {
			conffiles.WriteString("/" + f.Name + "\n")
			continue
		}
		sum := md5.Sum(f.Body)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), f.Name)
	}
	control := strings.ReplaceAll(p.Control, "@INSTALLED_SIZE@", strconv.FormatInt(size, 10))
	out := []File{
		{Name: ".", Mode: fs.ModeDir | 0o755},
		{Name: "control", Mode: 0o644, Body: []byte(control)},
		{Name: "md5sums", Mode: 0o644, Body: []byte(sums.String())},
	}
	if conffiles.Len() > 0 {
		out = append(out, File{Name: "conffiles", Mode: 0o644, Body: []byte(conffiles.String())})
	}
	for name, body := range p.Scripts {
		out = append(out, File{Name: name, Mode: 0o755, Body: body})
	}
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].Name < out[1+j].Name })
	return out
}

// withParents checks files and returns them sorted by name, with every parent
// folder ("usr", "usr/bin") and the root "." added as root-owned 0755 folders.
func withParents(files []File) ([]File, error) {
	byName := map[string]File{".": {Name: ".", Mode: fs.ModeDir | 0o755}}
	for _, f := range files {
		if f.Name == "" || strings.HasPrefix(f.Name, "/") || path.Clean(f.Name) != f.Name || strings.HasPrefix(f.Name, "../") {
			return nil, fmt.Errorf("debpkg: bad file name %q: want a clean relative path like usr/bin/oxd", f.Name)
		}
		if f.Conffile && (!f.Mode.IsRegular() || !strings.HasPrefix(f.Name, "etc/")) {
			return nil, fmt.Errorf("debpkg: conffile %s: must be a regular file under etc/", f.Name)
		}
		if _, dup := byName[f.Name]; dup {
			return nil, fmt.Errorf("debpkg: %s given twice", f.Name)
		}
		byName[f.Name] = f
		for dir := path.Dir(f.Name); dir != "."; dir = path.Dir(dir) {
			if _, ok := byName[dir]; !ok {
				byName[dir] = File{Name: dir, Mode: fs.ModeDir | 0o755}
			}
		}
	}
	out := make([]File, 0, len(byName))
	for _, f := range byName {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return tarName(out[i]) < tarName(out[j]) })
	return out, nil
}

// tarName is the entry's name in the archive: "./usr/bin/oxd", "./usr/bin/"
// for a folder, as dpkg-deb writes them.
func tarName(f File) string {
	if f.Name == "." {
		return "./"
	}
	if f.Mode.IsDir() {
		return "./" + f.Name + "/"
	}
	return "./" + f.Name
}

// tarGz returns files as a gzipped tar archive (GNU format, as dpkg-deb's) owned
// by root:root with mtime.
func tarGz(files []File, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := newGzip(&buf)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, f := range files {
		h := &tar.Header{
			Name:    tarName(f),
			Mode:    int64(f.Mode.Perm()),
			Uname:   "root",
			Gname:   "root",
			ModTime: mtime.Truncate(time.Second),
			Format:  tar.FormatGNU,
		}
		switch {
		case f.Mode.IsDir():
			h.Typeflag = tar.TypeDir
		case f.Mode&fs.ModeSymlink != 0:
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.Link
		case f.Mode.IsRegular():
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Body))
		default:
			return nil, fmt.Errorf("%s: mode %v: only files, folders and links", f.Name, f.Mode)
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Body); err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// newGzip returns a gzip writer at the best compression whose header has no
// name and no time, like gzip -9n: the output depends on the input alone.
func newGzip(w io.Writer) (*gzip.Writer, error) {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	zw.Header = gzip.Header{OS: 3} // Unix, as gzip writes it
	return zw, nil
}

// Gzip returns b compressed as gzip -9n does (no name, no time), for files such
// as changelog.Debian.gz that Debian wants compressed reproducibly.
func Gzip(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := newGzip(&buf)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// arWriter writes the common ar format dpkg reads: the global header, then for
// each member a 60-byte header and the data padded to an even length.
type arWriter struct {
	w     io.Writer
	mtime int64
	err   error
}

func (a *arWriter) write(b []byte) {
	if a.err == nil {
		_, a.err = a.w.Write(b)
	}
}

func (a *arWriter) header() { a.write([]byte("!<arch>\n")) }

func (a *arWriter) member(name string, data []byte) {
	// name/16 mtime/12 uid/6 gid/6 mode/8 size/10 magic/2, space padded.
	h := fmt.Sprintf("%-16s%-12d%-6d%-6d%-8o%-10d`\n", name, a.mtime, 0, 0, 0o100644, len(data))
	if len(h) != 60 {
		a.err = fmt.Errorf("debpkg: ar header for %s is %d bytes", name, len(h))
		return
	}
	a.write([]byte(h))
	a.write(data)
	if len(data)%2 == 1 {
		a.write([]byte("\n"))
	}
}
