-- set a hot key to a fresh unique value, with a TTL from none to 1 s
\set k random(1, 8)
\set t random(1, 6)
SELECT audit.op_set(:k, :t);
