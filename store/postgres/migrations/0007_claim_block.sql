-- leased schema version 7: a block claim in one statement (issue #12,
-- docs/cluster.md "Claim life cycle").
--
-- ClaimBlock was a transaction of six round trips (BEGIN, fence, the pool's
-- advisory lock, the delete of expired claims, the scan of the family's
-- claims, the insert, COMMIT) plus a seventh for the block's leases; on a
-- saturated core each round trip waits for the server and for the backend
-- to be scheduled, and parked DISCOVERs waited for all of them. Now the
-- whole claim is leased_claim_block, called in the same pipelined batch as
-- the read of the block's leases: one round trip, one transaction. What it
-- does is unchanged (Go's findGap, now in store/postgres/gap_test.go as the
-- oracle of TestClaimGapOracle): the database stays the only arbiter — the
-- per-pool advisory lock orders claimers, the exclusion constraint
-- claims_no_overlap makes an overlap impossible whatever inserts it, and
-- leased_fence refuses a superseded epoch.

-- leased_num_inet is the inverse of claims.span's numbering: DHCPv4 the
-- address as a number, DHCPv6 the address + 2^32.
CREATE FUNCTION leased_num_inet(n numeric, fam smallint) RETURNS inet
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    x numeric := n;
    parts text[] := '{}';
BEGIN
    IF fam = 4 THEN
        RETURN '0.0.0.0'::inet + x::int8;
    END IF;
    x := x - 4294967296;
    FOR i IN 1 .. 8 LOOP
        parts := array_prepend(lpad(to_hex(mod(x, 65536)::int4), 4, '0'), parts);
        x := div(x, 65536);
    END LOOP;
    RETURN array_to_string(parts, ':')::inet;
END
$$;

-- leased_claim_block claims for srv (at epoch ep), until ttl seconds from
-- now, the first run of size units (unit addresses each: 1, or 2^(128 -
-- prefix length) for IA_PD) of pool pname's ranges [lo[i], hi[i]] (span
-- numbers, sorted) not covered by a claim of the family, units aligned
-- from each range's first number; when no run that long is left, the first
-- shorter one of at least a unit. Expired claims of the pool are deleted
-- first. It returns the new claims row, or no row when nothing is left,
-- and sets leased.claim_id (transaction-local) to its id, so that the next
-- statement of the same transaction can read the block's leases.
CREATE FUNCTION leased_claim_block(srv text, ep bigint, pname text, fam smallint,
    lo numeric[], hi numeric[], unit numeric, size int4, ttl float8)
RETURNS SETOF claims
LANGUAGE plpgsql AS $$
DECLARE
    want numeric := unit * size;
    cur numeric;
    n numeric;
    nxt numeric;
    rem numeric;
    s_first numeric; -- the first shorter run
    s_last numeric;
    f numeric;       -- the run taken
    l numeric;
    c record;
    r claims;
BEGIN
    PERFORM leased_fence(srv, ep);
    -- Concurrent claimers of the pool wait for each other rather than fail
    -- on the exclusion constraint (27747 = 0x6c63, claimLockClass).
    PERFORM pg_advisory_xact_lock(27747, hashtext(pname));
    DELETE FROM claims WHERE pool = pname AND expires < now();
    <<ranges>>
    FOR i IN 1 .. coalesce(array_length(lo, 1), 0) LOOP
        cur := lo[i];
        FOR c IN SELECT lower(k.span) AS cf, upper(k.span) AS ce FROM claims k
                 WHERE k.family = fam AND k.span && numrange(lo[i], hi[i], '[]')
                 ORDER BY lower(k.span) LOOP
            CONTINUE WHEN c.ce < cur;
            IF c.cf > cur THEN -- the gap [cur, c.cf - 1]
                n := div(c.cf - cur, unit);
                IF n >= size THEN
                    f := cur;
                    l := cur + want - 1;
                    EXIT ranges;
                END IF;
                IF n > 0 AND s_first IS NULL THEN
                    s_first := cur;
                    s_last := cur + n * unit - 1;
                END IF;
            END IF;
            -- on after the claim, aligned to a unit from the range's start
            nxt := c.ce - lo[i] + 1;
            rem := mod(nxt, unit);
            IF rem <> 0 THEN
                nxt := nxt + unit - rem;
            END IF;
            cur := nxt + lo[i];
            EXIT WHEN cur > hi[i];
        END LOOP;
        IF cur <= hi[i] THEN -- the gap [cur, hi]
            n := div(hi[i] - cur + 1, unit);
            IF n >= size THEN
                f := cur;
                l := cur + want - 1;
                EXIT ranges;
            END IF;
            IF n > 0 AND s_first IS NULL THEN
                s_first := cur;
                s_last := cur + n * unit - 1;
            END IF;
        END IF;
    END LOOP;
    IF f IS NULL THEN
        IF s_first IS NULL THEN
            RETURN; -- every unit of the pool is claimed
        END IF;
        f := s_first;
        l := s_last;
    END IF;
    INSERT INTO claims (pool, family, first, last, span, owner, epoch, expires)
        VALUES (pname, fam, leased_num_inet(f, fam), leased_num_inet(l, fam), numrange(f, l, '[]'), srv, ep,
                now() + make_interval(secs => ttl))
        RETURNING * INTO r;
    PERFORM set_config('leased.claim_id', r.id::text, true);
    RETURN NEXT r;
END
$$;
