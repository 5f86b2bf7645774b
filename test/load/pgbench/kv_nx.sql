-- set-if-not-exists on a hot key (a lock), TTL from none to 1 s
\set k random(1, 8)
\set t random(1, 6)
SELECT audit.op_nx(:k, :t);
