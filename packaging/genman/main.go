// Command genman writes the man pages of leased (section 8) and leasectl
// (section 1) from the programs' own help: it runs the built binaries
// with --help (and every leasectl command with --help, recursively), so
// the pages list exactly the flags and commands the binaries have. The
// DESCRIPTION, FILES and SIGNALS of leased.8 are written here.
//
//	go run ./packaging/genman -leased bin/leased -leasectl bin/leasectl -out DIR -version V
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	leased := flag.String("leased", "bin/leased", "leased `binary`")
	leasectl := flag.String("leasectl", "bin/leasectl", "leasectl `binary`")
	out := flag.String("out", "man", "output `directory` (man1/, man8/ are created)")
	version := flag.String("version", "", "version shown in the footer")
	flag.Parse()
	date := time.Now().UTC().Format("2006-01-02")
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" { // reproducible builds
		var sec int64
		fmt.Sscan(s, &sec)
		date = time.Unix(sec, 0).UTC().Format("2006-01-02")
	}
	if err := write(filepath.Join(*out, "man8", "leased.8"), leasedPage(*leased, *version, date)); err != nil {
		fatal(err)
	}
	if err := write(filepath.Join(*out, "man1", "leasectl.1"), leasectlPage(*leasectl, *version, date)); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "genman:", err)
	os.Exit(1)
}

func write(path, s string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// help runs bin args... --help and returns what it printed (stdout and
// stderr: Go's flag package prints usage on stderr and exits 0 or 2).
func help(bin string, args ...string) string {
	out, _ := exec.Command(bin, append(args, "--help")...).CombinedOutput()
	return string(out)
}

// esc escapes text for roff.
func esc(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			l = `\&` + l
		}
		b.WriteString(l + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func leasedPage(bin, version, date string) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH LEASED 8 %q %q \"System Administration\"\n", date, "leased "+version)
	b.WriteString(".SH NAME\nleased \\- DHCPv4/DHCPv6 server with server\\-initiated reconfiguration\n")
	b.WriteString(".SH SYNOPSIS\n.B leased\n[\\fB\\-\\-config\\fR \\fIFILE\\fR] [\\fB\\-\\-check\\fR [\\fB\\-\\-offline\\fR]] [\\fIOPTIONS\\fR]\n.br\n" +
		".B leased store\n\\fBcopy\\fR|\\fBimport\\fR|\\fBdump\\fR ...\n")
	b.WriteString(".SH DESCRIPTION\n" + esc(`leased serves DHCPv4 and DHCPv6 from the YAML configuration file and keeps
its leases in an embedded log (data_dir) or PostgreSQL. It can make bound
clients renew now: FORCERENEW (RFC 3203, 6704) and DHCPv6 Reconfigure
(RFC 8415), in campaigns with progress and a defined outcome per client.
leasectl(1) and the status page (/status/ on the control socket and the TCP
listener) show and manage the running server.`) + "\n")
	b.WriteString(".SH OPTIONS\n")
	sc := bufio.NewScanner(strings.NewReader(help(bin)))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "  -"):
			f := strings.TrimPrefix(strings.TrimSpace(l), "-")
			name, arg, _ := strings.Cut(f, " ")
			b.WriteString(".TP\n\\fB\\-\\-" + esc(name) + "\\fR")
			if arg != "" {
				b.WriteString(" \\fI" + esc(arg) + "\\fR")
			}
			b.WriteString("\n")
		case strings.HasPrefix(l, "    \t"):
			b.WriteString(esc(strings.TrimSpace(l)) + "\n")
		}
	}
	b.WriteString(".SH COMMANDS\n")
	for _, c := range []string{"copy", "import", "dump"} {
		u := help(bin, "store", c)
		b.WriteString(".SS leased store " + c + "\n.nf\n" + esc(strings.TrimSpace(u)) + "\n.fi\n")
	}
	b.WriteString(".SH SIGNALS\n" + esc(`SIGTERM, SIGINT: stop; in-flight lease writes finish first.
SIGHUP: re-read the configuration; an invalid file is reported and the
running configuration kept. Under systemd (Type=notify) leased reports
READY=1 when serving, RELOADING=1 and READY=1 around a reload, STOPPING=1.`) + "\n")
	b.WriteString(".SH FILES\n.TP\n/etc/leased/leased.yaml\nconfiguration\n.TP\n/var/lib/leased\nlease store (data_dir)\n.TP\n/run/leased/control.sock\ncontrol API and status page\n")
	b.WriteString(".SH SEE ALSO\nleasectl(1), /usr/share/doc/leased/operator\\-guide.md\n")
	return b.String()
}

func leasectlPage(bin, version, date string) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH LEASECTL 1 %q %q \"User Commands\"\n", date, "leased "+version)
	b.WriteString(".SH NAME\nleasectl \\- inspect and manage a running leased DHCP server\n")
	b.WriteString(".SH SYNOPSIS\n.B leasectl\n[\\fIFLAGS\\fR] \\fICOMMAND\\fR ...\n")
	root := help(bin)
	desc, _, _ := strings.Cut(root, "\nUsage:")
	b.WriteString(".SH DESCRIPTION\n" + esc(strings.TrimSpace(desc)) + "\n")
	b.WriteString(".SH COMMANDS\n")
	var walk func(path []string, text string)
	walk = func(path []string, text string) {
		for _, c := range commands(text) {
			if c == "help" || c == "completion" {
				continue
			}
			p := append(append([]string{}, path...), c)
			h := help(bin, p...)
			b.WriteString(".SS leasectl " + esc(strings.Join(p, " ")) + "\n.nf\n" + esc(strings.TrimSpace(h)) + "\n.fi\n")
			walk(p, h)
		}
	}
	walk(nil, root)
	b.WriteString(".SH EXIT STATUS\n0 success; 1 error (leased unreachable, a request refused, health failing); 2 usage error; 3 health degraded.\n")
	b.WriteString(".SH SEE ALSO\nleased(8)\n")
	return b.String()
}

// commands lists the names under "Available Commands:" of cobra's help.
func commands(help string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(help, "\n") {
		switch {
		case strings.HasPrefix(l, "Available Commands:"):
			in = true
		case in && strings.HasPrefix(l, "  "):
			out = append(out, strings.Fields(l)[0])
		case in:
			in = false
		}
	}
	return out
}
