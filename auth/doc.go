// Package auth implements DHCPv4 message authentication for leased:
//
//   - RFC 6704 Forcerenew Nonce Authentication: a per-client reconfigure
//     key handed out in the DHCPACK (option 90, protocol 3, algorithm 1
//     HMAC-MD5, RDM 0, type 1 = key) and an HMAC-MD5 over every
//     DHCPFORCERENEW (RFC 3203) in the same option with type 2;
//   - RFC 3118 §4 configuration tokens (protocol 0): a shared plain-text
//     token in every message;
//   - replay detection values (RFC 3118 §2, RDM 0) that strictly increase
//     per client, also across restarts.
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
package auth
