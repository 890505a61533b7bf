package debpkg_test

// These tests build ox's real packages with make deb's builder (mkdeb) and read
// them back with Debian's own tools: dpkg-deb, lintian, systemd-analyze. On a
// machine without those tools they are skipped; under CI=true they must run.

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/blueox/ox/internal/testenv"
)

// built is the packages mkdeb made, once per test process.
var built struct {
	once    sync.Once
	dir     string // the first build: host arch and arm64
	again   string // the second build: host arch
	version string
	mkdeb   string // the builder
	err     error
	out     string
}

// buildPackages runs mkdeb twice into fresh folders and returns the path of the
// host architecture's package from the first build.
func buildPackages(t *testing.T) (deb, version string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds every command twice (-short)")
	}
	lookTool(t, "dpkg-deb")
	root := testenv.ModuleRoot(t)
	built.once.Do(func() {
		tmp, err := os.MkdirTemp("", "debpkg-test-")
		if err != nil {
			built.err = err
			return
		}
		mkdeb := filepath.Join(tmp, "mkdeb")
		built.mkdeb = mkdeb
		cmd := exec.Command("go", "build", "-o", mkdeb, "./internal/debpkg/cmd/mkdeb")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err, built.out = err, string(out)
			return
		}
		built.dir, built.again = filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
		for _, run := range []struct{ out, archs string }{
			{built.dir, runtime.GOARCH + ",arm64"},
			{built.again, runtime.GOARCH},
		} {
			cmd := exec.Command(mkdeb, "-out", run.out, "-arch", run.archs)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=")
			out, err := cmd.CombinedOutput()
			built.out += string(out)
			if err != nil {
				built.err = err
				return
			}
		}
		m := regexp.MustCompile(`ox_(\S+)_` + runtime.GOARCH + `\.deb`).FindStringSubmatch(built.out)
		if m == nil {
			built.err = os.ErrNotExist
			return
		}
		built.version = m[1]
	})
	if built.err != nil {
		t.Fatalf("mkdeb: %v\n%s", built.err, built.out)
	}
	return filepath.Join(built.dir, "ox_"+built.version+"_"+runtime.GOARCH+".deb"), built.version
}

// TestMain removes the packages the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(filepath.Dir(built.dir))
	}
	os.Exit(code)
}

func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testenv.Skip(t, "%s not installed (Debian: apt-get install dpkg-dev lintian systemd; .ci/deps.d/deb.sh)", name)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPackageIsReproducible(t *testing.T) {
	deb, _ := buildPackages(t)
	a, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(built.again, filepath.Base(deb)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("two builds of the same commit differ (%d and %d bytes)", len(a), len(b))
	}
}

func TestPackageInfoAndContents(t *testing.T) {
	deb, version := buildPackages(t)
	info := run(t, "dpkg-deb", "--info", deb)
	for _, want := range []string{
		"Package: ox\n", "Version: " + version + "\n", "Architecture: " + runtime.GOARCH + "\n",
		"Depends: adduser\n", "Maintainer: ", "Description: ", "Installed-Size: ",
		" postinst ", " prerm ", " postrm ", " conffiles ", " md5sums ",
	} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
		}
	}
	conffiles := run(t, "dpkg-deb", "--info", deb, "conffiles")
	if conffiles != "/etc/default/oxd\n/etc/default/oxstash\n/etc/default/oxstore\n" {
		t.Errorf("conffiles:\n%s", conffiles)
	}

	contents := run(t, "dpkg-deb", "--contents", deb)
	want := map[string]string{ // path -> mode and owner
		"./usr/bin/oxd":                                "-rwxr-xr-x root/root",
		"./usr/bin/oxview":                             "-rwxr-xr-x root/root",
		"./usr/bin/oxctl":                              "-rwxr-xr-x root/root",
		"./usr/bin/oxingest":                           "-rwxr-xr-x root/root",
		"./usr/bin/oxstore":                            "-rwxr-xr-x root/root",
		"./usr/bin/oxstash":                            "-rwxr-xr-x root/root",
		"./lib/systemd/system/oxd.service":             "-rw-r--r-- root/root",
		"./lib/systemd/system/oxstore-archive.service": "-rw-r--r-- root/root",
		"./lib/systemd/system/oxstore-archive.timer":   "-rw-r--r-- root/root",
		"./lib/systemd/system/oxstash.service":         "-rw-r--r-- root/root",
		"./etc/default/oxd":                            "-rw-r--r-- root/root",
		"./etc/default/oxstore":                        "-rw------- root/root",
		"./etc/default/oxstash":                        "-rw------- root/root",
		"./usr/share/doc/ox/copyright":                 "-rw-r--r-- root/root",
		"./usr/share/doc/ox/changelog.Debian.gz":       "-rw-r--r-- root/root",
		"./usr/share/lintian/overrides/ox":             "-rw-r--r-- root/root",
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(contents), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb --contents line %q", line)
		}
		got[f[5]] = f[0] + " " + f[1]
		if f[1] != "root/root" {
			t.Errorf("%s owned by %s", f[5], f[1])
		}
	}
	for path, w := range want {
		if got[path] != w {
			t.Errorf("%s: %q, want %q", path, got[path], w)
		}
	}
	if len(got) != len(want)+13 { // and 13 folders
		t.Errorf("%d entries, want %d:\n%s", len(got), len(want)+13, contents)
	}
}

// TestCommandsAnswerVersion runs every installed command with --version.
func TestCommandsAnswerVersion(t *testing.T) {
	deb, version := buildPackages(t)
	root := t.TempDir()
	run(t, "dpkg-deb", "-x", deb, root)
	for _, c := range []string{"oxd", "oxview", "oxctl", "oxingest", "oxstore", "oxstash"} {
		out := run(t, filepath.Join(root, "usr/bin", c), "--version")
		if want := c + " " + version + "\n"; out != want {
			t.Errorf("%s --version: %q, want %q", c, out, want)
		}
	}
	// The arm64 package holds arm64 programs.
	arm := t.TempDir()
	run(t, "dpkg-deb", "-x", filepath.Join(built.dir, "ox_"+version+"_arm64.deb"), arm)
	f, err := elf.Open(filepath.Join(arm, "usr/bin/oxd"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Fatalf("arm64 package's oxd is %v", f.Machine)
	}
}

func TestLintianClean(t *testing.T) {
	deb, _ := buildPackages(t)
	lintian := lookTool(t, "lintian")
	out, _ := exec.Command(lintian, "--tag-display-limit", "0", deb).CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			t.Errorf("lintian: %s", line)
		}
	}
	// Every override says why.
	overrides, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "packaging/deb/lintian-overrides"))
	if err != nil {
		t.Fatal(err)
	}
	prevComment := false
	for _, line := range strings.Split(string(overrides), "\n") {
		if strings.HasPrefix(line, "ox: ") && !prevComment {
			t.Errorf("lintian override without a reason comment before it: %s", line)
		}
		prevComment = strings.HasPrefix(line, "#") || (prevComment && strings.HasPrefix(line, "ox: "))
	}
}

// TestUnitsVerifyAndAreHardened checks every unit with systemd-analyze verify in
// a root made of the package's files and the host's units, and scores every
// service with systemd-analyze security --offline.
func TestUnitsVerifyAndAreHardened(t *testing.T) {
	deb, _ := buildPackages(t)
	analyze := lookTool(t, "systemd-analyze")
	root := t.TempDir()
	run(t, "dpkg-deb", "-x", deb, root)
	// The units they depend on (sysinit.target...) and /bin/sh for ExecCondition.
	units := filepath.Join(root, "lib/systemd/system")
	// cp -a keeps the host's aliases as links; -n keeps the package's units.
	run(t, "cp", "-a", "-n", "/lib/systemd/system/.", units)
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	sh, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "bin/sh"), sh, 0o755)

	ours := []string{"oxd.service", "oxstore-archive.service", "oxstore-archive.timer", "oxstash.service"}
	for _, u := range ours {
		t.Run(u, func(t *testing.T) {
			path := filepath.Join(units, u)
			if out := run(t, analyze, "verify", "--man=no", "--root="+root, path); strings.TrimSpace(out) != "" {
				t.Errorf("systemd-analyze verify %s warns:\n%s", u, out)
			}
			if !strings.HasSuffix(u, ".service") {
				return
			}
			out := run(t, analyze, "security", "--offline=true", "--no-pager", path)
			m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\S+)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no exposure level in:\n%s", out)
			}
			score, _ := strconv.ParseFloat(m[1], 64)
			t.Logf("%s: exposure %s %s", u, m[1], m[2])
			if score > 2.0 {
				t.Errorf("%s exposure %.1f %s, want 2.0 or lower:\n%s", u, score, m[2], out)
			}
		})
	}

	// verify does catch a broken unit: the check above is not vacuous.
	bad := filepath.Join(units, "oxd-broken.service")
	os.WriteFile(bad, []byte("[Service]\nExecStart=/usr/bin/oxd\nType=notfy\nProtectSystem=strickt\n"), 0o644)
	if out, err := exec.Command(analyze, "verify", "--man=no", "--root="+root, bad).CombinedOutput(); err == nil &&
		!strings.Contains(string(out), "Failed to parse") {
		t.Errorf("systemd-analyze verify accepted a broken unit:\n%s", out)
	}
}
