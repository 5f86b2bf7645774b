-- delete a hot key
\set k random(1, 8)
SELECT audit.op_delete(:k);
