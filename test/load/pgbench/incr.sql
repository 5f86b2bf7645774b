-- increment a counter that never expires
\set k random(1, 4)
SELECT audit.op_incr(:k);
