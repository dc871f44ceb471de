package config

import (
	"os"
	"strings"
	"testing"
)

// TestStorePostgres: store.postgres.dsn selects PostgreSQL; server_name
// defaults to the host name; a malformed DSN, a DSN next to data_dir and a
// bad server_name are errors naming file, line and field.
func TestStorePostgres(t *testing.T) {
	c, err := Parse("t.yaml", []byte(doc(
		"store:", // 6
		"  postgres:",
		"    dsn: host=db1,db2 port=5432,5433 dbname=leased target_session_attrs=read-write",
	)))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Store.UsesPostgres() {
		t.Error("UsesPostgres false with a dsn")
	}
	host, _ := os.Hostname()
	if c.ServerName != host || host == "" {
		t.Errorf("server_name %q, want the host name %q", c.ServerName, host)
	}
	c, err = Parse("t.yaml", []byte(doc("server_name: dhcp-a.example_1")))
	if err != nil {
		t.Fatal(err)
	}
	if c.ServerName != "dhcp-a.example_1" || c.Store.UsesPostgres() {
		t.Errorf("server_name %q, UsesPostgres %v", c.ServerName, c.Store.UsesPostgres())
	}

	for _, tc := range []struct {
		name, in string
		line     int
		field    string
		msg      []string // substrings
	}{
		{"dsn and data_dir", doc("data_dir: /var/lib/leased", "store:", "  postgres:", "    dsn: dbname=leased"),
			9, "store.postgres.dsn", []string{"store.postgres.dsn and data_dir (line 6) are both set"}},
		{"malformed dsn", doc("store:", "  postgres:", "    dsn: \"host=db port=notaport\""),
			8, "store.postgres.dsn", []string{"not a libpq connection string"}},
		{"malformed url", doc("store:", "  postgres:", "    dsn: \"postgres://[::1\""),
			8, "store.postgres.dsn", []string{"not a libpq connection string"}},
		{"empty dsn", doc("store:", "  postgres:", "    dsn: \"\""),
			8, "store.postgres.dsn", []string{"must not be empty"}},
		{"bad server_name", doc("server_name: \"a b\""),
			6, "server_name", []string{`"a b"`, "letters, digits"}},
		{"empty server_name", doc("server_name: \"\""),
			6, "server_name", []string{"must not be empty"}},
		{"long server_name", doc("server_name: " + strings.Repeat("a", 254)),
			6, "server_name", []string{"at most 253"}},
	} {
		_, err := Parse("t.yaml", []byte(tc.in))
		errs := Errors(err)
		if len(errs) != 1 {
			t.Errorf("%s: errors %v", tc.name, err)
			continue
		}
		e := errs[0]
		if e.File != "t.yaml" || e.Line != tc.line || e.Field != tc.field {
			t.Errorf("%s: got %s, want t.yaml:%d: %s", tc.name, e, tc.line, tc.field)
		}
		for _, m := range tc.msg {
			if !strings.Contains(e.Msg, m) {
				t.Errorf("%s: %q lacks %q", tc.name, e.Msg, m)
			}
		}
	}
}

// TestStorePostgresWarnings: the embedded log's risky settings are not
// reported as risks with PostgreSQL, but as having no effect.
func TestStorePostgresWarnings(t *testing.T) {
	c, err := Parse("t.yaml", []byte(doc("store:", "  fsync: false", "  allow_data_loss: true", "  postgres:", "    dsn: dbname=leased")))
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(c.Warnings(), "\n")
	if !strings.Contains(w, "concern only the embedded log") || strings.Contains(w, "acknowledged before they are on disk") ||
		strings.Contains(w, "starts without the leases") {
		t.Errorf("warnings:\n%s", w)
	}
	c, err = Parse("t.yaml", []byte(doc("store:", "  fsync: false")))
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "acknowledged before they are on disk") {
		t.Errorf("warnings without postgres:\n%s", w)
	}
}
