package config

// The DHCPv4 option registry as migration tools see it (leasectl import
// writes named options only when leased accepts them).

// OptionName4 is the registry name (Kea's) of DHCPv4 option code, if the
// registry has it.
func OptionName4(code int) (string, bool) {
	n, ok := optionByCode[code]
	return n, ok
}

// CheckOption4 reports whether value is a valid value for the DHCPv4
// registry option name, as a `{name, value}` option.
func CheckOption4(name, value string) error {
	o := Option{Name: name, Value: OptionValue(value)}
	_, err := o.encode(nil)
	return err
}
