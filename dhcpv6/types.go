// Package dhcpv6 is a DHCPv6 wire codec (RFC 8415 and the option RFCs named
// per option). Decoding fills a reusable Message whose slices alias the
// packet bytes, so a typical Solicit, Request or Renew decodes without
// allocating, relay layers included; encoding writes into a caller-provided
// buffer with a Writer that back-patches the lengths of nested options.
//
// The package imports nothing of leased and can be used on its own.
package dhcpv6

import (
	"net/netip"
	"strconv"
)

// UDP ports (RFC 8415 §7.2).
const (
	ClientPort = 546
	ServerPort = 547
)

// Multicast addresses (RFC 8415 §7.1).
var (
	AllRelayAgentsAndServers = netip.MustParseAddr("ff02::1:2")
	AllServers               = netip.MustParseAddr("ff05::1:3")
)

// HopCountLimit is HOP_COUNT_LIMIT (RFC 8415 §7.6): a relay discards a
// Relay-forward whose hop-count is already this high (§19.1.1), so a
// packet holds at most HopCountLimit+1 relay layers (hop-counts 0..8).
const HopCountLimit = 8

// MaxRelayDepth is the number of nested relay layers Decode accepts.
const MaxRelayDepth = HopCountLimit + 1

// MessageType is the msg-type field (RFC 8415 §7.3).
type MessageType uint8

const (
	Solicit            MessageType = 1
	Advertise          MessageType = 2
	Request            MessageType = 3
	Confirm            MessageType = 4
	Renew              MessageType = 5
	Rebind             MessageType = 6
	Reply              MessageType = 7
	Release            MessageType = 8
	Decline            MessageType = 9
	Reconfigure        MessageType = 10
	InformationRequest MessageType = 11
	RelayForward       MessageType = 12
	RelayReply         MessageType = 13
)

var messageTypeNames = [...]string{
	Solicit: "SOLICIT", Advertise: "ADVERTISE", Request: "REQUEST", Confirm: "CONFIRM",
	Renew: "RENEW", Rebind: "REBIND", Reply: "REPLY", Release: "RELEASE", Decline: "DECLINE",
	Reconfigure: "RECONFIGURE", InformationRequest: "INFORMATION-REQUEST",
	RelayForward: "RELAY-FORW", RelayReply: "RELAY-REPL",
}

func (t MessageType) String() string {
	if int(t) < len(messageTypeNames) && messageTypeNames[t] != "" {
		return messageTypeNames[t]
	}
	return "UNKNOWN(" + strconv.Itoa(int(t)) + ")"
}

// IsRelay reports whether t uses the relay agent/server message format
// (RFC 8415 §9).
func (t MessageType) IsRelay() bool { return t == RelayForward || t == RelayReply }

// OptionCode is a DHCPv6 option code (RFC 8415 §21, IANA registry).
type OptionCode uint16

const (
	OptClientID            OptionCode = 1  // RFC 8415 §21.2
	OptServerID            OptionCode = 2  // §21.3
	OptIANA                OptionCode = 3  // §21.4
	OptIATA                OptionCode = 4  // §21.5
	OptIAAddr              OptionCode = 5  // §21.6
	OptORO                 OptionCode = 6  // §21.7
	OptPreference          OptionCode = 7  // §21.8
	OptElapsedTime         OptionCode = 8  // §21.9
	OptRelayMsg            OptionCode = 9  // §21.10
	OptAuth                OptionCode = 11 // §21.11
	OptUnicast             OptionCode = 12 // §21.12
	OptStatusCode          OptionCode = 13 // §21.13
	OptRapidCommit         OptionCode = 14 // §21.14
	OptUserClass           OptionCode = 15 // §21.15
	OptVendorClass         OptionCode = 16 // §21.16
	OptVendorOpts          OptionCode = 17 // §21.17
	OptInterfaceID         OptionCode = 18 // §21.18
	OptReconfMsg           OptionCode = 19 // §21.19
	OptReconfAccept        OptionCode = 20 // §21.20
	OptSIPServerDomains    OptionCode = 21 // RFC 3319 §3.1
	OptSIPServerAddrs      OptionCode = 22 // RFC 3319 §3.2
	OptDNSServers          OptionCode = 23 // RFC 3646 §3
	OptDomainList          OptionCode = 24 // RFC 3646 §4
	OptIAPD                OptionCode = 25 // RFC 8415 §21.21
	OptIAPrefix            OptionCode = 26 // §21.22
	OptInfoRefreshTime     OptionCode = 32 // §21.23
	OptRemoteID            OptionCode = 37 // RFC 4649 §3
	OptSubscriberID        OptionCode = 38 // RFC 4580 §2
	OptClientFQDN          OptionCode = 39 // RFC 4704 §4
	OptNTPServer           OptionCode = 56 // RFC 5908 §4
	OptClientLinkLayerAddr OptionCode = 79 // RFC 6939 §4
	OptSolMaxRT            OptionCode = 82 // RFC 8415 §21.24
	OptInfMaxRT            OptionCode = 83 // §21.25
)

func optField(code OptionCode) string { return "option " + strconv.Itoa(int(code)) }

// StatusCode values (RFC 8415 §21.13, IANA).
const (
	StatusSuccess       uint16 = 0
	StatusUnspecFail    uint16 = 1
	StatusNoAddrsAvail  uint16 = 2
	StatusNoBinding     uint16 = 3
	StatusNotOnLink     uint16 = 4
	StatusUseMulticast  uint16 = 5
	StatusNoPrefixAvail uint16 = 6
)
