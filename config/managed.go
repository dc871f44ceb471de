package config

// ManagedOption reports whether leased sets option code itself in the
// given family (4: DHCPv4, 6: DHCPv6), and then why and what to use
// instead: such a code cannot be given as a raw option, in the file or in
// a runtime reservation (api.Reservation.Check).
func ManagedOption(family, code int) (why string, managed bool) {
	if family == 6 {
		why, managed = managedOptions6[code]
	} else {
		why, managed = managedOptions[code]
	}
	return why, managed
}
