package status

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"html/template"
	"net/http"
	"strings"
)

// CookieName is the session cookie the login form sets.
const CookieName = "leased_status"

// Auth guards the status page on the TCP listener with the control API's
// token. A script passes it as it does for the API (Authorization: Bearer
// TOKEN); a browser posts it once to {prefix}login and gets a cookie
// (HttpOnly, SameSite=Strict, Path=prefix, Secure when the request came
// over TLS) that holds HMAC-SHA256(token, "leased status page"), not the
// token: the cookie opens only the read-only page, never the admin API,
// and changing the token (a restart) invalidates every cookie. Anything
// else is redirected to the login form (the page) or answered 401
// (data.json).
func Auth(token, prefix string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	session := sessionValue(token)
	login := prefix + "login"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w)
		switch {
		case r.URL.Path == login:
			serveLogin(w, r, token, prefix, session)
			return
		case strings.HasPrefix(r.URL.Path, prefix+"assets/"): // the script and style are public
			next.ServeHTTP(w, r)
			return
		}
		ok := false
		if scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " "); found && strings.EqualFold(scheme, "Bearer") {
			got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
			ok = subtle.ConstantTimeCompare(got[:], want[:]) == 1
		} else if c, err := r.Cookie(CookieName); err == nil {
			ok = subtle.ConstantTimeCompare([]byte(c.Value), []byte(session)) == 1
		}
		if token == "" || !ok {
			if r.Method == http.MethodGet && r.URL.Path == prefix {
				http.Redirect(w, r, login, http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="leased"`)
			http.Error(w, "missing or wrong token (log in at "+login+")", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func sessionValue(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("leased status page"))
	return hex.EncodeToString(m.Sum(nil))
}

var loginPage = template.Must(template.ParseFS(assets, "assets/login.html"))

func serveLogin(w http.ResponseWriter, r *http.Request, token, prefix, session string) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		got := sha256.Sum256([]byte(strings.TrimSpace(r.PostFormValue("token"))))
		want := sha256.Sum256([]byte(token))
		if token != "" && subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			http.SetCookie(w, &http.Cookie{Name: CookieName, Value: session, Path: prefix,
				HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			http.Redirect(w, r, prefix, http.StatusSeeOther)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginPage.Execute(w, struct {
		Prefix string
		Failed bool
	}{prefix, r.Method == http.MethodPost})
}
