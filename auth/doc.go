// Package auth implements DHCP message authentication for leased:
//
//   - RFC 6704 Forcerenew Nonce Authentication: a per-client reconfigure
//     key handed out in the DHCPACK (option 90, protocol 3, algorithm 1
//     HMAC-MD5, RDM 0, type 1 = key) and an HMAC-MD5 over every
//     DHCPFORCERENEW (RFC 3203) in the same option with type 2;
//   - RFC 3118 §4 configuration tokens (protocol 0): a shared plain-text
//     token in every message;
//   - replay detection values (RFC 3118 §2, RDM 0) that strictly increase
//     per client, also across restarts;
//   - for DHCPv6, the Reconfiguration Key Authentication Protocol (RFC 8415
//     §20.4): the key in a Reply (option 11, protocol 3, algorithm 1, RDM 0,
//     type 1; WriteKeyOption6) and the HMAC-MD5 of a Reconfigure (type 2;
//     WriteReconfigureOption6, SignReconfigure6, VerifyReconfigure6,
//     ReplyKey6). The same Counter serves both families.
//
// The package is pure: no sockets, no clock reads, no goroutines. Callers
// pass the time and the randomness in. Signing and verifying do not
// allocate when given a scratch buffer of ScratchLen(len(pkt)) bytes.
//
// # What dhcpcd 9.4 checks
//
// dhcpcd is the one Linux client that acts on a FORCERENEW. Read from its
// src/auth.c (dhcp_auth_validate) and src/dhcp.c (dhcp_handledhcp) at tag
// v9.4.1, the version installed here:
//
//   - Before any authentication, a reply must be BOOTREPLY, carry the xid
//     of the client's current transaction and its chaddr; otherwise it is
//     dropped silently. A FORCERENEW therefore needs the xid stored with
//     the lease (lease.Lease.XID).
//   - Option 90 must be one contiguous option inside the packet: an option
//     split per RFC 3396 fails (ERANGE). dhcpv4.Writer.OptionAuth writes
//     one instance; VerifyHMACMD5 rejects a split option the same way.
//   - Without "authprotocol" in dhcpcd.conf (the default), the client
//     sends option 145 listing HMAC-MD5 and accepts only protocol 3 in
//     option 90. Algorithm and RDM are not compared with anything for a
//     type 1 key; for type 2 the algorithm must be 1 (HMAC-MD5).
//   - Protocol 3 information must be exactly 17 bytes (type + 16).
//     Type 1 (key) is accepted only in a DHCPACK — in an OFFER it makes
//     the whole message fail authentication, so the offer is ignored.
//     Type 2 (HMAC) is accepted only in a FORCERENEW and only once a key
//     was received (ENOENT otherwise).
//   - The MAC is HMAC-MD5 keyed with the 16-byte key over the whole
//     received UDP payload (every byte, including padding after the end
//     option) with the 16 digest bytes zeroed, and hops and giaddr set to
//     zero (RFC 3118 §5). It is compared in constant time.
//   - Replay detection runs only after a FORCERENEW (or token message) has
//     been authenticated and only if the last seen value is non-zero. It
//     then rejects a value equal to the last one and the value exactly
//     2^63 away; because it compares the difference as an unsigned
//     number, a smaller value is NOT rejected. Accepting a type 1 key
//     does not record its counter but forgets the previous FORCERENEW's
//     state, so the next FORCERENEW is not replay-checked at all. Our
//     verifier is stricter (the value must be greater than the last one,
//     as RFC 3118 §2 with erratum 3474 asks); our signer must satisfy
//     both: one counter per client, strictly increasing over ACKs and
//     FORCERENEWs together (an ACK reusing the FORCERENEW's value is
//     rejected by dhcpcd).
//   - A FORCERENEW from 0.0.0.0 or 255.255.255.255 is discarded; one
//     without option 90 is acted on only with "noauthrequired"; it is
//     acted on only in the BOUND (renew) or INFORM state.
//   - With "authprotocol token", dhcpcd requires protocol 0 with the
//     configured token (secretid 0 unless set otherwise) in every reply,
//     stops sending option 145 and rejects a protocol 3 key.
//
// # What dhcpcd 9.4 checks in a DHCPv6 Reconfigure
//
// Read from src/dhcp6.c (dhcp6_recvmsg, dhcp6_recvif) and src/auth.c
// (dhcp_auth_validate with mp = 6) at tag v9.4.1:
//
//   - The Reconfigure must come from a link-local source address ("not
//     LL" otherwise): send it from the server's link-local address, or
//     through the relay, which sends from its own link-local address on
//     the client's link. Its Client ID must equal the client's DUID byte
//     for byte, and a Server ID must be present. The transaction-id is not
//     checked for a Reconfigure (RFC 8415 §18.3.11 sets it to 0).
//   - dhcpcd sends Reconfigure Accept (option 20) only when dhcpcd.conf
//     has "option reconfigure_accept"; it is not requested by default. It
//     accepts a protocol 3 type 1 key only in a Reply (EINVAL elsewhere),
//     whether or not it sent option 20.
//   - Authentication uses the first option 11 of the message
//     (dhcp6_findmoption). Protocol 3 information must be 17 bytes; type 2
//     only in a Reconfigure and only after a key was received (ENOENT);
//     algorithm 1 with a 16-byte MAC.
//   - The MAC is HMAC-MD5 keyed with the 16-byte key over the whole
//     DHCPv6 message as received (the UDP payload: the Reconfigure itself,
//     relay layers are gone by then) with only the 16 MAC bytes zeroed —
//     the hops/giaddr zeroing is for mp == 4 only. SignReconfigure6 zeroes
//     exactly that and covers the innermost message of a Relay-reply;
//     dhcpcdValidate6 in the tests re-implements dhcpcd's steps and checks
//     our signatures with them.
//   - Replay detection is as for DHCPv4 (see above): a value equal to the
//     last, or exactly 2^63 away, is rejected; a smaller one is not; a
//     type 1 key resets the state. VerifyReconfigure6 is stricter (greater
//     than the last value, RFC 8415 §20.3).
//   - An unauthenticated Reconfigure is dropped unless authentication is
//     not required ("noauthrequired" or a build without AUTH). The
//     Reconfigure Message option (19, one byte) decides: Renew (5) is
//     acted on only in the BOUND state (dhcp6_startrenew), Information-
//     request (11) only in the INFORMED (stateless) state; Rebind (6) and
//     anything else are logged as unsupported and ignored. So a campaign
//     for dhcpcd uses reconf_msg renew (the default).
//
// odhcp6c (openwrt/odhcp6c src/dhcpv6.c) computes the same digest (HMAC-
// MD5 written out by hand over the received message with the 16 MAC bytes
// zeroed), accepts Renew, Rebind and Information-request, sends option 20
// by default (-a turns it off), but acts on Reconfigure only if the
// server's Advertise carried Reconfigure Accept (option 20): the server
// must put option 20 in the Advertise as well as the Reply. Since May 2026
// it also rejects a replay value not greater than the last accepted.
package auth
