package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestJSONBodyLimits: the POSTs that take a JSON body (campaigns,
// reservations) refuse query parameters with 400 and a body over maxBody
// with 413, each with a message, before decoding anything.
func TestJSONBodyLimits(t *testing.T) {
	big := `{"x":"` + strings.Repeat("a", maxBody) + `"}`
	for path, b := range map[string]Backend{
		"/v1/campaigns":    &fakeCampaigns{fakeBackend: testBackend()},
		"/v1/reservations": &resBackend{fakeBackend: *testBackend()},
	} {
		srv := httptest.NewServer(NewHandler(b, nil, nil))
		defer srv.Close()
		for _, c := range []struct {
			query, body, want string
			code              int
		}{
			{"?pool=lan", `{}`, "takes no query parameters", http.StatusBadRequest},
			{"", big, "larger than", http.StatusRequestEntityTooLarge},
		} {
			resp, err := http.Post(srv.URL+path+c.query, "application/json", strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			var msg strings.Builder
			buf := make([]byte, 4096)
			n, _ := resp.Body.Read(buf)
			msg.Write(buf[:n])
			resp.Body.Close()
			if resp.StatusCode != c.code || !strings.Contains(msg.String(), c.want) {
				t.Errorf("POST %s%s (%d bytes): %d %q, want %d with %q", path, c.query, len(c.body), resp.StatusCode, msg.String(), c.code, c.want)
			}
		}
	}
}
