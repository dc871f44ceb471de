// Package namedtest runs a private BIND 9 named (Debian's bind9 package)
// for tests: a temporary directory holds its configuration, zones and
// journals; it listens on one address only, accepts updates signed with a
// generated TSIG key, and is stopped by the PID the test started.
package namedtest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Bin is named's path.
const Bin = "/usr/sbin/named"

// Named is a running named.
type Named struct {
	// Addr is host:port it answers on.
	Addr string
	// KeyName, Secret: the TSIG key (hmac-sha256) allowed to update.
	KeyName, Secret string
	Dir             string
	cmd             *exec.Cmd
}

// Require skips the test (fails it under CI) when named is missing or the
// test is not root.
func Require(t testing.TB) {
	t.Helper()
	why := ""
	if _, err := os.Stat(Bin); err != nil {
		why = "named not installed (Debian bind9; scripts/deps.sh)"
	} else if os.Geteuid() != 0 {
		why = "named runs as root here"
	}
	if why != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI is set)", why)
		}
		t.Skip("skipping: " + why)
	}
}

// FreePort returns a UDP and TCP port free on 127.0.0.1 now.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		l, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.LocalAddr().(*net.UDPAddr).Port
		l.Close()
		if tl, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			tl.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// Start writes zones (origin → zone file text; origins end with a dot)
// and starts named on ip:port, prefixed by wrap (e.g. ip netns exec NS).
// named is stopped (SIGTERM, then SIGKILL, by PID) at cleanup.
func Start(t testing.TB, wrap []string, ip string, port int, zones map[string]string) *Named {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	n := &Named{Addr: net.JoinHostPort(ip, fmt.Sprint(port)), KeyName: "leased-ddns.", Secret: base64.StdEncoding.EncodeToString(secret), Dir: dir}
	var conf strings.Builder
	fmt.Fprintf(&conf, `options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	session-keyfile "%[1]s/session.key";
	managed-keys-directory "%[1]s";
	listen-on port %[2]d { %[3]s; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
};
key "leased-ddns" { algorithm hmac-sha256; secret "%[4]s"; };
`, dir, port, ip, n.Secret)
	for origin, text := range zones {
		file := filepath.Join(dir, strings.TrimSuffix(origin, ".")+".zone")
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&conf, "zone %q { type primary; file %q; allow-update { key \"leased-ddns\"; }; };\n", origin, file)
	}
	confPath := filepath.Join(dir, "named.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "named.log"))
	if err != nil {
		t.Fatal(err)
	}
	argv := append(append([]string{}, wrap...), Bin, "-g", "-n", "1", "-c", confPath)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.cmd = cmd
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("named log:\n%s", b)
		}
	})
	return n
}

// Ready waits until query answers (it runs the check from where named is
// reachable) or fails the test after 15 s.
func (n *Named) Ready(t testing.TB, query func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := query()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(n.Dir, "named.log"))
			t.Fatalf("named not answering after 15s: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Lookup asks named for name/type (no recursion) and returns the answer
// records as text without TTLs, e.g. "alpha.lan.test. IN A 10.77.1.10".
func Lookup(addr, name string, qtype uint16) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range r.Answer {
		if rr.Header().Rrtype != qtype {
			continue
		}
		rr.Header().Ttl = 0
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out, nil
}

// Zone returns a minimal zone file for origin with extra records.
func Zone(origin string, extra ...string) string {
	return fmt.Sprintf("$TTL 300\n@ IN SOA ns.%[1]s hostmaster.%[1]s 1 3600 600 86400 300\n@ IN NS ns.%[1]s\nns.%[1]s IN A 127.0.0.1\n%s\n",
		origin, strings.Join(extra, "\n"))
}
