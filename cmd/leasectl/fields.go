package main

import "strings"

// apiFields maps the field names of the control API, as its error messages
// name them, to the leasectl flag that sets the field, so that an error
// about what the user typed as --message says --message, not
// options.reconf_msg. Qualified names (JSON body of POST /v1/campaigns) come
// before bare ones: strings.Replacer tries them in this order.
// TestAPIFieldsHaveFlags checks that every field a command sends is here
// and names a flag of that command.
var apiFields = []struct{ field, flag string }{
	// POST /v1/campaigns: campaign start (forcerenew / reconfigure).
	{"selector.all", "--all"},
	{"selector.pool", "--pool"},
	{"selector.section", "--section"},
	{`"prefix_pool": `, "--prefix-pool "}, // `use "prefix_pool": "x"`
	{"selector.prefix_pool", "--prefix-pool"},
	{"selector.from", "--range"},
	{"selector.to", "--range"},
	{"selector.client", "--client"},
	{"selector.family", "--family"},
	{"options.attempts", "--attempts"},
	{"options.interval", "--interval"},
	{"options.pace", "--pace"},
	{"options.on_failure", "--on-failure"},
	{"options.force_nak", "--force-nak"},
	{"options.recycle_not_capable", "--recycle-not-capable"},
	{"options.reconf_msg", "--message"},
	// Bare names inside messages ("leave reconf_msg out").
	{"reconf_msg", "--message"},
	{"prefix_pool", "--prefix-pool"},
	{"on_failure", "--on-failure"},
	{"force_nak", "--force-nak"},
	{"recycle_not_capable", "--recycle-not-capable"},
}

// apiParams maps the query parameters of GET /v1/leases, GET
// /v1/campaigns/{id}/clients and POST .../disconnect to their flags. The
// API's messages about them start with "name: ".
var apiParams = map[string]string{
	"pool":       "--pool",
	"section":    "--section",
	"from":       "--range",
	"to":         "--range",
	"client":     "--client",
	"family":     "--family",
	"state":      "--state",
	"outcome":    "--outcome",
	"on_failure": "--on-failure",
}

var fieldReplacer = func() *strings.Replacer {
	var pairs []string
	for _, f := range apiFields {
		pairs = append(pairs, f.field, f.flag)
	}
	return strings.NewReplacer(pairs...)
}()

// flagWords rewrites an API error message in terms of leasectl's flags.
func flagWords(msg string) string {
	if name, rest, ok := strings.Cut(msg, ": "); ok {
		if flag, known := apiParams[name]; known {
			return flag + ": " + rest
		}
	}
	return fieldReplacer.Replace(msg)
}
