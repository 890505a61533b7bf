// Command mkdeb builds ox's Debian packages, dist/ox_<version>_<arch>.deb, with
// the Go toolchain alone (make deb runs it). The commands are position-independent
// executables (ASLR) that need no shared library, only the loader. The same commit
// gives the same bytes: the commands are built with -trimpath and no build id, and
// every time in the package is the commit's (or $SOURCE_DATE_EPOCH).
//
//	go run ./internal/debpkg/cmd/mkdeb [-arch amd64,arm64] [-out dist] [-version V]
//
// The packaging sources (control file, maintainer scripts, systemd units,
// /etc/default files, copyright) are in packaging/deb; docs/install.md says what
// the package does.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/blueox/ox/internal/cli"
	"github.com/blueox/ox/internal/debpkg"
)

func main() { program.Main(run) }

var program = cli.Command{Name: "mkdeb", HelpHint: true}

// commands are installed in /usr/bin.
var commands = []string{"oxctl", "oxd", "oxingest", "oxstash", "oxstore", "oxview"}

// confModes are the /etc/default files, all conffiles; those that may hold
// credentials are readable by root only (systemd reads them before it drops
// privileges).
var confModes = map[string]fs.FileMode{"oxd": 0o644, "oxstore": 0o600, "oxstash": 0o600}

const usage = `usage: mkdeb [-arch amd64,arm64] [-out DIR] [-version V] [-src DIR]

Builds DIR/ox_<version>_<arch>.deb for each architecture from the module in
the current directory. The version defaults to one derived from git describe;
times come from $SOURCE_DATE_EPOCH, else the commit's time.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mkdeb", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	archs := fs.String("arch", "amd64,arm64", "architectures")
	out := fs.String("out", "dist", "output folder")
	version := fs.String("version", "", "package version")
	src := fs.String("src", "packaging/deb", "packaging sources")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return err
		}
		return cli.Usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	rev, err := git(ctx, "rev-parse", "--short=12", "HEAD")
	if err != nil {
		return err
	}
	epoch, err := sourceDate(ctx)
	if err != nil {
		return err
	}
	if *version == "" {
		describe, err := git(ctx, "describe", "--tags", "--always", "--match", "v[0-9]*")
		if err != nil {
			return err
		}
		*version = DebianVersion(describe, epoch)
	}
	if !validVersion.MatchString(*version) {
		return cli.Usagef("-version %q is not a Debian version", *version)
	}
	if st, _ := git(ctx, "status", "--porcelain", "--untracked-files=no"); st != "" {
		fmt.Fprintln(stderr, "mkdeb: warning: the work tree has changes: the packages hold them, not commit "+rev)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	for _, arch := range strings.Split(*archs, ",") {
		name := filepath.Join(*out, fmt.Sprintf("ox_%s_%s.deb", *version, arch))
		if err := build(ctx, *src, arch, *version, rev, epoch, name); err != nil {
			return fmt.Errorf("%s: %w", arch, err)
		}
		fmt.Fprintln(stdout, name)
	}
	return nil
}

// validVersion is a Debian version with a revision: upstream-revision, the
// upstream part starting with a digit.
var validVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*-[A-Za-z0-9.+~]+$`)

// describeRE splits git describe's output: a tag vX.Y.Z, then -N-gHASH when
// HEAD is N commits past it.
var describeRE = regexp.MustCompile(`^v?([0-9][A-Za-z0-9.+~]*)(?:-([0-9]+)-g([0-9a-f]+))?$`)

// DebianVersion maps git describe output to a Debian version that sorts as the
// history does: v1.2.0 gives 1.2.0-1; 5 commits past it, 1.2.0+git<date>.5.<hash>-1;
// with no tag, 0.0~git<date>.<hash>-1, date being the commit's UTC time to the
// second so two builds of a day sort in order.
func DebianVersion(describe string, commit time.Time) string {
	stamp := commit.UTC().Format("20060102150405")
	if m := describeRE.FindStringSubmatch(describe); m != nil && !isHash(describe) {
		if m[2] == "" {
			return m[1] + "-1"
		}
		return fmt.Sprintf("%s+git%s.%s.%s-1", m[1], stamp, m[2], m[3])
	}
	hash := describe
	if i := strings.LastIndex(describe, "-g"); i >= 0 {
		hash = describe[i+2:]
	}
	return fmt.Sprintf("0.0~git%s.%s-1", stamp, hash)
}

// isHash reports whether s is a bare abbreviated commit (git describe --always
// with no tag), which the tag pattern would otherwise take for a version.
func isHash(s string) bool {
	if len(s) < 7 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// sourceDate is $SOURCE_DATE_EPOCH, else the commit time of HEAD.
func sourceDate(ctx context.Context) (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		var err error
		if s, err = git(ctx, "log", "-1", "--format=%ct"); err != nil {
			return time.Time{}, err
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: not a Unix time", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

func git(ctx context.Context, args ...string) (string, error) {
	var errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// build compiles the commands for arch and writes the package to name.
func build(ctx context.Context, src, arch, version, rev string, mtime time.Time, name string) error {
	tmp, err := os.MkdirTemp("", "mkdeb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var files []debpkg.File
	for _, c := range commands {
		bin := filepath.Join(tmp, c)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-buildmode=pie",
			"-ldflags", "-s -w -buildid= -X github.com/blueox/ox/internal/cli.Version="+version,
			"-o", bin, "./"+c)
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0",
			"GOAMD64=v1", "GOARM64=v8.0", "GOFLAGS=-mod=readonly")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./%s: %v\n%s", c, err, out)
		}
		body, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		files = append(files, debpkg.File{Name: "usr/bin/" + c, Mode: 0o755, Body: body})
	}

	units, err := filepath.Glob(filepath.Join(src, "systemd", "*"))
	if err != nil {
		return err
	}
	for _, u := range units {
		body, err := os.ReadFile(u)
		if err != nil {
			return err
		}
		files = append(files, debpkg.File{Name: "lib/systemd/system/" + filepath.Base(u), Mode: 0o644, Body: body})
	}
	for conf, mode := range confModes {
		body, err := os.ReadFile(filepath.Join(src, "default", conf))
		if err != nil {
			return err
		}
		files = append(files, debpkg.File{Name: "etc/default/" + conf, Mode: mode, Body: body, Conffile: true})
	}
	copyright, err := os.ReadFile(filepath.Join(src, "copyright"))
	if err != nil {
		return err
	}
	changelog, err := debpkg.Gzip([]byte(fmt.Sprintf(
		"ox (%s) unstable; urgency=medium\n\n  * Built from commit %s of https://github.com/blueox/ox.\n\n -- %s  %s\n",
		version, rev, maintainer, mtime.Format(time.RFC1123Z))))
	if err != nil {
		return err
	}
	files = append(files,
		debpkg.File{Name: "usr/share/doc/ox/copyright", Mode: 0o644, Body: copyright},
		debpkg.File{Name: "usr/share/doc/ox/changelog.Debian.gz", Mode: 0o644, Body: changelog})
	if overrides, err := os.ReadFile(filepath.Join(src, "lintian-overrides")); err == nil {
		files = append(files, debpkg.File{Name: "usr/share/lintian/overrides/ox", Mode: 0o644, Body: overrides})
	}

	scripts := map[string][]byte{}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		if scripts[s], err = os.ReadFile(filepath.Join(src, s)); err != nil {
			return err
		}
	}
	control, err := os.ReadFile(filepath.Join(src, "control"))
	if err != nil {
		return err
	}
	p := &debpkg.Package{
		Control: strings.NewReplacer("@VERSION@", version, "@ARCH@", arch).Replace(string(control)),
		Scripts: scripts,
		Files:   files,
		ModTime: mtime,
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		return err
	}
	return os.WriteFile(name, buf.Bytes(), 0o644)
}

// maintainer is the changelog's signature; the control file names the same.
const maintainer = "ox maintainers <maintainers@blueox.example>"
