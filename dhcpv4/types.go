// Package dhcpv4 is a DHCPv4 wire codec (RFC 2131, RFC 2132 and the option
// RFCs listed per option). Decoding fills a reusable Message whose slices
// alias the packet bytes, so a typical DISCOVER or REQUEST decodes without
// allocating; encoding writes into a caller-provided buffer.
//
// The package imports nothing of leased and can be used on its own.
package dhcpv4

// OpCode is the BOOTP op field (RFC 2131 §2).
type OpCode uint8

const (
	BootRequest OpCode = 1
	BootReply   OpCode = 2
)

// MessageType is the value of option 53 (RFC 2132 §9.6, RFC 3203 for 9).
type MessageType uint8

const (
	Discover   MessageType = 1
	Offer      MessageType = 2
	Request    MessageType = 3
	Decline    MessageType = 4
	Ack        MessageType = 5
	Nak        MessageType = 6
	Release    MessageType = 7
	Inform     MessageType = 8
	ForceRenew MessageType = 9 // RFC 3203
)

var messageTypeNames = [...]string{
	Discover: "DISCOVER", Offer: "OFFER", Request: "REQUEST", Decline: "DECLINE",
	Ack: "ACK", Nak: "NAK", Release: "RELEASE", Inform: "INFORM", ForceRenew: "FORCERENEW",
}

func (t MessageType) String() string {
	if int(t) < len(messageTypeNames) && messageTypeNames[t] != "" {
		return messageTypeNames[t]
	}
	return "UNKNOWN(" + itoa(int(t)) + ")"
}

// OptionCode is a DHCPv4 option tag.
type OptionCode uint8

const (
	OptPad                OptionCode = 0
	OptSubnetMask         OptionCode = 1
	OptRouter             OptionCode = 3
	OptDNS                OptionCode = 6
	OptHostname           OptionCode = 12
	OptDomainName         OptionCode = 15
	OptInterfaceMTU       OptionCode = 26
	OptBroadcastAddr      OptionCode = 28
	OptNTPServers         OptionCode = 42
	OptVendorSpecific     OptionCode = 43
	OptRequestedIP        OptionCode = 50
	OptLeaseTime          OptionCode = 51
	OptOverload           OptionCode = 52 // RFC 2132 §9.3
	OptMessageType        OptionCode = 53
	OptServerID           OptionCode = 54
	OptParamRequestList   OptionCode = 55
	OptMessage            OptionCode = 56
	OptMaxMessageSize     OptionCode = 57
	OptRenewalTime        OptionCode = 58 // T1
	OptRebindingTime      OptionCode = 59 // T2
	OptVendorClassID      OptionCode = 60
	OptClientID           OptionCode = 61
	OptTFTPServerName     OptionCode = 66
	OptBootfileName       OptionCode = 67
	OptClientFQDN         OptionCode = 81  // RFC 4702
	OptRelayAgentInfo     OptionCode = 82  // RFC 3046
	OptAuthentication     OptionCode = 90  // RFC 3118
	OptDomainSearch       OptionCode = 119 // RFC 3397
	OptClasslessRoutes    OptionCode = 121 // RFC 3442
	OptForceRenewNonceCap OptionCode = 145 // RFC 6704
	OptEnd                OptionCode = 255
)

// Broadcast flag bit in Header.Flags (RFC 2131 §2, figure 2).
const FlagBroadcast uint16 = 0x8000

// Ports (RFC 2131 §4.1).
const (
	ServerPort = 67
	ClientPort = 68
)

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := v < 0
	if neg {
		v = -v
	}
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
