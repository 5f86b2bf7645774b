-- increment a counter whose TTL (20 to 200 ms) is set when it is created
\set k random(1, 4)
\set t random(3, 5)
SELECT audit.op_incr_ttl(:k, :t);
